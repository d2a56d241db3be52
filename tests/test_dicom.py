"""DICOM input: files written with pydicom (MR, CT with rescale and windows, MONOCHROME1, VOI LUT, multi-frame, no pixel data,
compressed without a decoder, not DICOM) scan to usable rows with their header fields, or to error rows naming the reason."""
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, generate_uid
from radtl.data import scan, usable, read_image, read_dicom, is_dicom, assign_patients
from radtl.audit import audit

def dicom(path, pixels=None, photometric='MONOCHROME2', bits=12, patient='P1', modality='MR', study=None, **attrs):
    "Write a DICOM file (no pixels when `pixels` is None) with header `attrs`; returns its path"
    ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = '1.2.840.10008.5.1.4.1.1.4', generate_uid()
    ds.PatientID, ds.Modality = patient, modality
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study or generate_uid(), generate_uid()
    if pixels is not None: ds.set_pixel_data(pixels, photometric, bits)
    for k, v in attrs.items(): setattr(ds, k, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path

def ramp(h=32, w=48, top=4000): return (np.linspace(0, top, h * w).reshape(h, w)).astype(np.uint16)

@pytest.fixture
def dicom_set(tmp_path):
    root = tmp_path / 'dicom'
    dicom(root / 'glioma' / 'IM0001', ramp(), patient='P1', study='1.2.3')                       # MR, no window: min-max, no extension
    dicom(root / 'glioma' / 'IM0002.dcm', ramp(), patient='P1', study='1.2.3')
    hu = np.tile(np.array([-1000, -160, 0, 40, 240, 1000], np.int16), (8, 1))
    dicom(root / 'meningioma' / 'ct.dcm', (hu + 1024).astype(np.uint16), modality='CT', patient='P2',
          RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=[40, 400], WindowWidth=[400, 2000])  # first window: soft tissue
    dicom(root / 'meningioma' / 'mono1.dcm', ramp(), photometric='MONOCHROME1', patient='P3')
    lut = Dataset(); lut.LUTDescriptor = [4096, 0, 16]; lut.add_new(0x00283006, 'OW', (np.arange(4096) * 16).astype(np.uint16).tobytes())   # LUTData
    dicom(root / 'pituitary' / 'voi.dcm', ramp(top=4095), patient='P4', VOILUTSequence=Sequence([lut]), WindowCenter=2000, WindowWidth=100)
    dicom(root / 'pituitary' / 'cine.dcm', np.stack([ramp()] * 3), patient='P5')                  # multi-frame
    dicom(root / 'pituitary' / 'report.dcm', None, patient='P6')                                  # no pixel data
    c = dicom(root / 'notumor' / 'jls.dcm', ramp(), patient='P7')                                 # compressed, no decoder: rewritten below
    from pydicom import dcmread
    ds = dcmread(c); ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b'\xff\xd8\xff\xf7' + bytes(64) + b'\xff\xd9']); ds['PixelData'].VR = 'OB'
    ds.save_as(c, enforce_file_format=True)
    (root / 'notumor' / 'IM0009').write_text('not an image: the scanner protocol')                 # named like DICOM, is not
    (root / 'notumor' / 'fake.dcm').write_bytes(b'\0' * 200)
    return root

def test_dicom_set_scans_to_rows_with_reasons(dicom_set):
    cat = scan(dicom_set, progress=False, verbose=False)
    row = {p.split('/')[-1]: r for p, r in zip(cat.path, cat.to_dict('records'))}
    kind = lambda n: (row[n]['error'] or '').split(':')[0] if isinstance(row[n]['error'], str) else None
    assert len(row) == 10
    for ok in ('IM0001', 'IM0002.dcm', 'ct.dcm', 'mono1.dcm', 'voi.dcm'): assert kind(ok) is None, (ok, row[ok]['error'])
    assert kind('cine.dcm') == 'dicom_multiframe' and '3 frames' in row['cine.dcm']['error']
    assert kind('report.dcm') == 'dicom_no_pixels'
    assert kind('jls.dcm') == 'dicom_compressed' and 'JPEG-LS' in row['jls.dcm']['error'] and 'pip install' in row['jls.dcm']['error']
    assert kind('IM0009') == 'not_dicom' and kind('fake.dcm') == 'not_dicom'
    assert row['ct.dcm']['format'] == 'DICOM' and row['ct.dcm']['modality'] == 'CT' and row['ct.dcm']['patient'] == 'P2'
    assert row['IM0001']['study_uid'] == row['IM0002.dcm']['study_uid'] == '1.2.3' and row['IM0001']['series_uid'] != row['IM0002.dcm']['series_uid']
    assert row['cine.dcm']['patient'] == 'P5'                               # an unusable file still names its patient
    assert row['ct.dcm']['pixel_map'] == 'rescale 1*x-1024; window c=40 w=400 LINEAR (first of 2)'
    assert row['IM0001']['pixel_map'].startswith('no rescale; min-max 0..4000') and 'inverted' in row['mono1.dcm']['pixel_map']
    assert row['voi.dcm']['pixel_map'] == 'no rescale; VOI LUT'           # the VOI LUT wins over the window
    assert (row['IM0001']['width'], row['IM0001']['height'], row['IM0001']['grey']) == (48, 32, True)
    assert len(usable(cat)) == 5

def test_dicom_intensities(dicom_set):
    ct = np.asarray(read_image(dicom_set / 'meningioma' / 'ct.dcm'))[0]
    np.testing.assert_array_equal(ct, [0, 0, 102, 128, 255, 255])         # −160..240 HU → 0..255 (c=40, w=400)
    mr, mono = np.asarray(read_image(dicom_set / 'glioma' / 'IM0001')), np.asarray(read_image(dicom_set / 'meningioma' / 'mono1.dcm'))
    assert (mr.min(), mr.max()) == (0, 255)
    np.testing.assert_array_equal(mono, 255 - mr)                          # MONOCHROME1: white is low
    voi = np.asarray(read_image(dicom_set / 'pituitary' / 'voi.dcm')).astype(int)
    assert voi.min() == 0 and voi.max() == 255 and np.all(np.diff(voi.ravel()) >= 0)   # through the LUT (linear 0..255), not the narrow window
    im, f = read_dicom(dicom_set / 'glioma' / 'IM0001')
    assert im.mode == 'L' and f['modality'] == 'MR' and is_dicom(dicom_set / 'glioma' / 'IM0001')

def test_dicom_patient_ids_make_groups(dicom_set, tmp_path):
    cat = scan(dicom_set, progress=False, verbose=False)
    cat, info = assign_patients(cat, [dicom_set])
    assert info == {'dicom': 8}                                             # every DICOM header, usable or not
    a = audit(cat, cache_dir=tmp_path / 'cache', progress=False)
    g = a.images.set_index(a.images.path.map(lambda p: p.split('/')[-1])).group
    assert g['IM0001'] == g['IM0002.dcm'] and g.nunique() == 4
    assert a.summary['patient_sources'] == {'dicom': 5} and a.summary['n_patients'] == 4
