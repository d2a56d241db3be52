"Bad or unusual files and layouts: each scans to a row with a clear error kind, or is normalised correctly; nothing under a root goes unaccounted."
import io, os
import numpy as np
import pytest
from PIL import Image
from radtl.data import scan, read_image, usable

def _grey(h=40, w=60):
    y, x = np.mgrid[0:h, 0:w]
    return ((x * 3 + y * 2) % 256).astype(np.uint8)

@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / 'set' / 'Training' / 'glioma'; d.mkdir(parents=True)
    (d / '.DS_Store').write_bytes(b'Bud1\0\0\0')                                   # hidden file
    (d / 'notes.txt').write_text('scanner protocol notes')                          # non-image
    (d / 'empty.jpg').write_bytes(b'')                                              # zero bytes
    buf = io.BytesIO(); Image.fromarray(_grey(200, 200)).save(buf, 'JPEG', quality=95)
    (d / 'truncated.jpg').write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])    # truncated JPEG
    (d / 'random.jpg').write_bytes(np.random.default_rng(0).bytes(3000))           # random bytes named .jpg
    Image.fromarray(_grey()).save(d / 'png_named.jpg', format='PNG')                # PNG named .jpg
    rgba = np.dstack([np.stack([_grey()] * 3, -1), np.full((40, 60), 128, np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(d / 'rgba.png')                              # RGBA
    Image.fromarray(_grey()).convert('P').save(d / 'palette.png')                   # palette
    Image.fromarray((_grey().astype(np.uint16) * 16)).save(d / 'deep16.png')        # 16-bit grey
    Image.fromarray(np.stack([_grey()] * 3, -1)).convert('CMYK').save(d / 'cmyk.jpg')  # CMYK
    exif = Image.Exif(); exif[0x0112] = 6                                           # EXIF: rotate 90° on display
    Image.fromarray(_grey(40, 60)).save(d / 'exif_rotated.jpg', exif=exif.tobytes())
    Image.new('L', (20000, 20000)).save(d / 'bomb.png', optimize=True)              # decompression bomb (400 Mpx)
    return tmp_path / 'set'

def test_twelve_kinds(corpus):
    cat = scan(corpus, progress=False, verbose=False)
    row = {os.path.basename(p): r for p, r in zip(cat.path, cat.to_dict('records'))}
    assert len(row) == 12
    err = lambda n: row[n]['error'] if isinstance(row[n]['error'], str) else None
    kind = lambda n: (err(n) or '').split(':')[0] or None
    assert kind('.DS_Store') == 'hidden'
    assert kind('notes.txt') == 'not_image'
    assert kind('empty.jpg') == 'empty'
    assert kind('truncated.jpg') == 'truncated'
    assert kind('random.jpg') == 'unreadable'
    assert kind('bomb.png') == 'too_large' and 'decompression' in row['bomb.png']['error']
    for ok in ('png_named.jpg', 'rgba.png', 'palette.png', 'deep16.png', 'cmyk.jpg', 'exif_rotated.jpg'):
        assert err(ok) is None, (ok, err(ok))
    assert row['png_named.jpg']['format'] == 'PNG'
    assert (row['rgba.png']['mode'], row['palette.png']['mode'], row['cmyk.jpg']['mode']) == ('RGBA', 'P', 'CMYK')
    assert row['deep16.png']['mode'].startswith('I')
    assert (row['exif_rotated.jpg']['width'], row['exif_rotated.jpg']['height']) == (40, 60)   # upright after EXIF
    assert len(usable(cat)) == 6

def test_normalised_pixels(corpus):
    d = corpus / 'Training' / 'glioma'
    for name in ('png_named.jpg', 'rgba.png', 'palette.png', 'deep16.png', 'cmyk.jpg', 'exif_rotated.jpg'):
        im = read_image(d / name)
        assert im.mode in ('L', 'RGB'), name
    assert np.asarray(read_image(d / 'deep16.png')).max() == 255               # 16-bit scaled to full 8-bit range
    rgba = np.asarray(read_image(d / 'rgba.png'), np.float32)
    np.testing.assert_allclose(rgba[..., 0], np.round(_grey().astype(np.float32) * 128 / 255), atol=1)   # alpha 128 over black
    np.testing.assert_array_equal(np.asarray(read_image(d / 'png_named.jpg')), _grey())
    assert read_image(d / 'exif_rotated.jpg').size == (40, 60)

def test_scan_summary_and_bad_roots(corpus, tmp_path, capsys):
    scan(corpus, progress=False)
    out = capsys.readouterr().out
    assert '12 files, 6 usable' in out and 'hidden 1' in out and 'too_large 1' in out
    from radtl.core import RadtlError
    with pytest.raises(RadtlError, match='not a folder'): scan(tmp_path / 'missing')
    (tmp_path / 'void').mkdir()
    with pytest.raises(RadtlError, match='no files'): scan(tmp_path / 'void')


# ---- every thing under a root accounted for (issue 17) ----
import shutil, subprocess, sys
from pathlib import Path
from radtl.data import error_counts, left_out_line

def _png(path, value=90, size=(16, 16)):
    "A grey PNG at `path` (`value`: a grey level or an array), its folders made"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.broadcast_to(np.asarray(value, np.uint8), size).copy()).save(path, format='PNG')

@pytest.fixture
def odd_layout(tmp_path):
    "A set whose images sit behind links, at wrong levels, in sub-folders, in a FIFO, as NaN floats and under names that are not UTF-8"
    root = tmp_path / 'set'
    for cls in ('glioma', 'meningioma_tumor'):
        for i in range(3): _png(root / 'Training' / cls / f'{i}.png', 40 * i)
    _png(tmp_path / 'elsewhere' / 'n0.png'); _png(tmp_path / 'elsewhere' / 'n1.png', 100)
    os.symlink(tmp_path / 'elsewhere', root / 'Training' / 'no_tumor')                           # symlinked class folder: followed
    os.symlink(root / 'Training', root / 'Training' / 'glioma' / 'loop')                          # link to a folder above: a loop
    os.symlink(tmp_path / 'missing.png', root / 'Training' / 'glioma' / 'broken.png')             # broken link
    os.mkfifo(root / 'Training' / 'glioma' / 'pipe.png')                                          # a FIFO named .png: never opened
    _png(root / 'Training' / 'stray.png'); _png(root / 'top.png')                                 # images at the wrong level
    for i in range(3): _png(root / 'Training' / 'meningioma_tumor' / 'sub' / f's{i}.png', 200)   # an extra nesting level
    Image.fromarray(np.array([[0.1, np.nan], [np.inf, 0.5]], np.float32)).save(root / 'Training' / 'glioma' / 'nan.tif')
    _png(root / 'Training' / 'glioma' / os.fsdecode(b'\xff\xfe-latin1.png'))                     # a name that is not UTF-8
    (root / 'Training' / 'glioma' / 'README').write_text('no extension')                          # unknown / no extension
    (root / 'Training' / 'glioma' / 'scan.xyz').write_bytes(b'\0' * 10)
    return root

def test_every_entry_accounted_for(odd_layout):
    cat = scan(odd_layout, progress=False, verbose=False)
    kind = {os.path.basename(p): (e.split(':')[0] if isinstance(e, str) else None) for p, e in zip(cat.path, cat.error)}
    assert kind['loop'] == 'symlink_loop' and kind['broken.png'] == 'broken_link' and kind['pipe.png'] == 'not_regular'
    assert kind['stray.png'] == kind['top.png'] == 'unlabelled'
    assert all(kind[f's{i}.png'] == 'nested' for i in range(3))
    assert kind['nan.tif'] == 'non_finite' and kind['scan.xyz'] == 'not_image' and kind['README'] == 'not_dicom'   # no extension: read as DICOM, if it is one
    assert kind[os.fsdecode(b'\xff\xfe-latin1.png')] is None and kind['n0.png'] is None and kind['n1.png'] is None
    u = usable(cat)
    assert sorted(u.label.unique()) == ['glioma', 'meningioma', 'notumor']              # no bogus class 'sub'
    assert u.label.value_counts().to_dict() == {'glioma': 4, 'meningioma': 3, 'notumor': 2}
    assert 'sub/' in cat.error[cat.path.str.endswith('s0.png')].iloc[0] and 'meningioma_tumor/' in cat.error[cat.path.str.endswith('s0.png')].iloc[0]
    assert len(usable(cat, labelled=False)) == len(u) + 5                                 # the unlabelled and nested images still decode
    counts = error_counts(cat)
    assert counts == {'broken_link': 1, 'nested': 3, 'non_finite': 1, 'not_dicom': 1, 'not_image': 1, 'not_regular': 1, 'symlink_loop': 1, 'unlabelled': 2}
    assert left_out_line(counts).startswith('left out: 11 files (broken_link 1, nested 3')

def test_nested_folder_does_not_distort_the_split(tmp_path):
    "A few images one level too deep used to become a class of their own and skew the stratified split"
    from radtl.audit import audit
    from radtl.splits import make_splits
    root, rng = tmp_path / 'set', np.random.default_rng(0)
    noise = lambda path: _png(path, rng.integers(0, 255, (24, 24)).astype(np.uint8), (24, 24))
    for cls in ('glioma', 'meningioma', 'notumor', 'pituitary'):
        for i in range(40): noise(root / cls / f'{i}.png')
    for i in range(3): noise(root / 'meningioma' / 'sub' / f'{i}.png')
    cat = scan(root, progress=False, verbose=False)
    sp = make_splits(audit(cat, progress=False, cache_dir=tmp_path / 'c').images, 'group', seed=0)
    assert sorted(sp.label.unique()) == ['glioma', 'meningioma', 'notumor', 'pituitary']
    share = sp.subset.value_counts(normalize=True)
    assert abs(share['train'] - 0.70) < 0.03 and abs(share['val'] - 0.15) < 0.03 and abs(share['test'] - 0.15) < 0.03, share

def test_unreadable_folder_is_a_row_monkeypatched(odd_layout, monkeypatch):
    "The listing of one class folder fails (as it does without permission): one error row for it, nothing silent"
    import radtl.data as data
    locked = odd_layout / 'Training' / 'meningioma_tumor'
    real = data._listing
    def listing(d):
        if Path(d) == locked: raise PermissionError(13, 'Permission denied')
        return real(d)
    monkeypatch.setattr(data, '_listing', listing)
    cat = scan(odd_layout, progress=False, verbose=False)
    row = cat[cat.path == str(locked)]
    assert len(row) == 1 and row.error.iloc[0].startswith('unreadable_folder: cannot list this folder (Permission denied)')
    assert not cat.path.str.startswith(str(locked) + os.sep).any()
    assert 'unreadable_folder 1' in left_out_line(error_counts(cat))

def _without_root_powers():
    "A command prefix under which chmod 000 really blocks reading: none for a normal user; for root, setpriv dropping the DAC capabilities"
    if os.geteuid() != 0: return []
    if shutil.which('setpriv'):
        probe = subprocess.run(['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', 'true'], capture_output=True)
        if probe.returncode == 0: return ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search']
    pytest.skip('running as root without setpriv: chmod 000 does not block reads here (the monkeypatched test covers the path)')

def test_unreadable_folder_chmod_000(odd_layout, tmp_path):
    "A class folder with mode 000, scanned by a process that really cannot read it (as root: the DAC capabilities dropped)"
    prefix = _without_root_powers()
    locked = odd_layout / 'Training' / 'meningioma_tumor'
    os.chmod(locked, 0)
    try:
        code = ('import sys; from radtl.data import scan; c = scan(sys.argv[1], progress=False, verbose=False); '
                'print(c[c.path == sys.argv[2]].error.iloc[0]); print(int(c.path.str.startswith(sys.argv[2] + "/").sum()))')
        r = subprocess.run([*prefix, sys.executable, '-c', code, str(odd_layout), str(locked)], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    finally: os.chmod(locked, 0o755)
    assert r.returncode == 0, r.stderr[-2000:]
    err, n_inside = r.stdout.strip().splitlines()
    assert err.startswith('unreadable_folder: cannot list this folder (Permission denied)') and n_inside == '0'
