"The twelve kinds of bad or unusual files: each scans to a row with a clear error, or is normalised correctly."
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
