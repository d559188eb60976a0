"Every kind of bad scene input fails with a ValueError that names the file and what was expected."
import shutil
import numpy as np, pytest
from PIL import Image
from seg_imbalance.io import read_scene_folder, save_scene_folder, scenes_from_arrays, Scene
from seg_imbalance.synth import synth_sceneset

@pytest.fixture
def folder(tmp_path):
    return save_scene_folder(synth_sceneset(3, 64, seed=0), tmp_path / 'scenes')

def test_good_folder_reads(folder):
    ss = read_scene_folder(folder)
    assert len(ss) == 3 and ss.n_classes == 6 and ss[0].shape == (64, 64)

def test_label_out_of_range(folder):
    m = np.array(Image.open(folder / 'masks' / 'synth_0001.png')); m[5, 7] = 6; m[0, 0] = 200
    Image.fromarray(m).save(folder / 'masks' / 'synth_0001.png')
    with pytest.raises(ValueError, match=r"synth_0001 \(.*masks/synth_0001\.png\): mask values \[6, 200\] are outside \[0, 6\).*2 pixels"): read_scene_folder(folder)

def test_ignore_index_is_allowed(folder):
    m = np.array(Image.open(folder / 'masks' / 'synth_0001.png')); m[5, 7] = 255
    Image.fromarray(m).save(folder / 'masks' / 'synth_0001.png')
    assert read_scene_folder(folder, ignore_index=255).ignore_index == 255
    (folder / 'ignore_index.txt').write_text('255\n')
    assert read_scene_folder(folder).ignore_index == 255

def test_size_mismatch(folder):
    Image.fromarray(np.zeros((60, 64), np.uint8)).save(folder / 'masks' / 'synth_0002.png')
    with pytest.raises(ValueError, match=r"synth_0002: image size \(64, 64\) and mask size \(60, 64\) differ"): read_scene_folder(folder)

def test_image_without_mask(folder):
    (folder / 'masks' / 'synth_0000.png').unlink()
    with pytest.raises(ValueError, match=r"images without a mask .*synth_0000\.png"): read_scene_folder(folder)

def test_mask_without_image(folder):
    shutil.copy(folder / 'masks' / 'synth_0000.png', folder / 'masks' / 'stray.png')
    with pytest.raises(ValueError, match=r"masks without an image .*stray"): read_scene_folder(folder)

def test_empty_folder(tmp_path):
    (tmp_path / 'images').mkdir(); (tmp_path / 'masks').mkdir(); (tmp_path / 'codes.txt').write_text('a\nb\n')
    with pytest.raises(ValueError, match=r"holds no image files"): read_scene_folder(tmp_path)

def test_missing_folder(tmp_path):
    (tmp_path / 'codes.txt').write_text('a\nb\n')
    with pytest.raises(ValueError, match=r"images is not a folder"): read_scene_folder(tmp_path)

def test_unreadable_file(folder):
    (folder / 'images' / 'synth_0001.png').write_bytes(b'garbage')
    with pytest.raises(ValueError, match=r"cannot read file .*synth_0001\.png"): read_scene_folder(folder)

def test_colour_mask_refused(folder):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / 'masks' / 'synth_0001.png')
    with pytest.raises(ValueError, match=r"synth_0001\.png has shape \(64, 64, 3\): expected one channel"): read_scene_folder(folder)

def test_missing_codes(folder):
    (folder / 'codes.txt').unlink()
    with pytest.raises(ValueError, match=r"codes\.txt not found"): read_scene_folder(folder)

def test_arrays():
    with pytest.raises(ValueError, match=r"no scenes"): scenes_from_arrays([], [], ['a', 'b'])
    with pytest.raises(ValueError, match=r"2 images but 1 masks"): scenes_from_arrays([np.zeros((4, 4, 3))] * 2, [np.zeros((4, 4), int)], ['a', 'b'])
    with pytest.raises(ValueError, match=r"scene_0: mask values \[2\]"): scenes_from_arrays([np.zeros((4, 4, 3))], [np.full((4, 4), 2)], ['a', 'b'])
    with pytest.raises(ValueError, match=r"image size \(4, 5\) and mask size \(4, 4\) differ"): Scene(np.zeros((4, 5, 3)), np.zeros((4, 4), int))

def test_bad_reading_options(folder, tmp_path):
    with pytest.raises(ValueError, match=r"cache must be 'disk', 'memory' \(True\), 'none' \(False\) or a SceneCache, got 'ram'"):
        read_scene_folder(folder, cache='ram')
    with pytest.raises(ValueError, match=r"synth_0000: bands \[4\] must be band numbers in 1\.\.3"):
        read_scene_folder(folder, bands=[4], cache='none')[0].read_image()
    with pytest.raises(ValueError, match=r"image_nodata must be None, 'declared' or a number, got 'zeros'"):
        read_scene_folder(folder, image_nodata='zeros')
    with pytest.raises(ValueError, match=r"dark: 16 pixels have no data .* set ignore_index"):
        Scene(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), 'dark', image_nodata=0).read_mask()

def test_pngs_read_by_bands(folder, tmp_path):
    from seg_imbalance.io import SceneCache
    ss = read_scene_folder(folder, bands=[3, 1], cache=SceneCache(tmp_path / 'c'))
    full = np.array(Image.open(folder / 'images' / 'synth_0001.png'))
    np.testing.assert_array_equal(ss[1].read_image((2, 3, 5, 6)), full[2:7, 3:9][..., [2, 0]])
    assert ss[1].n_bands == 2 and ss[1].image_dtype == np.uint8

def test_cache_eviction_survives_a_temporary_file_renamed_meanwhile(tmp_path, monkeypatch):
    "Two trainings share the scene cache: a writer's `.tmp` renamed into place between `glob` and `stat` is skipped"
    import pathlib
    from seg_imbalance.io import SceneCache
    cache = SceneCache(tmp_path / 'cache', max_bytes=1 << 30)
    assert cache._write(cache.folder / 'a.npy', np.zeros((4, 4), np.uint8))
    real_glob = pathlib.Path.glob
    def glob(self, pattern, *a, **k): # the other process's temporary file, gone by the time it is looked at
        found = list(real_glob(self, pattern, *a, **k))
        return found + [self / 'b.npy.123.tmp'] if pattern == '*.tmp' else found
    monkeypatch.setattr(pathlib.Path, 'glob', glob)
    assert cache.evict() == [] and (cache.folder / 'a.npy').exists()

def test_cache_size_survives_a_file_evicted_meanwhile(tmp_path, monkeypatch):
    "`nbytes` counts a cache file another process evicted between listing and `stat` as 0 bytes"
    from seg_imbalance.io import SceneCache
    cache = SceneCache(tmp_path / 'cache')
    assert cache._write(cache.folder / 'a.npy', np.zeros((4, 4), np.uint8))
    real = SceneCache.files
    monkeypatch.setattr(SceneCache, 'files', lambda self: real(self) + [self.folder / 'gone.npy'])
    assert cache.nbytes == (cache.folder / 'a.npy').stat().st_size
