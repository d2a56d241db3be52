"has_gpu: a backend's failure to query its GPUs surfaces; NVIDIA devices the backend cannot use are warned about"
import pytest, keras
import radtl.hardware as T

@pytest.mark.skipif(keras.backend.backend() != 'tensorflow', reason='patches TensorFlow')
def test_backend_error_is_not_swallowed(monkeypatch):
    import tensorflow as tf
    def broken(*a, **k): raise RuntimeError('CUDA driver initialisation failed (test)')
    monkeypatch.setattr(tf.config, 'list_physical_devices', broken)
    with pytest.raises(RuntimeError, match='CUDA driver'): T.has_gpu()

@pytest.mark.skipif(keras.backend.backend() != 'tensorflow', reason='patches TensorFlow')
def test_unusable_nvidia_devices_warn(monkeypatch):
    import tensorflow as tf
    monkeypatch.setattr(tf.config, 'list_physical_devices', lambda *a, **k: [])
    monkeypatch.setattr(T, '_nvidia_device_nodes', lambda: ['/dev/nvidia0'])
    with pytest.warns(RuntimeWarning, match='/dev/nvidia0.*sees no GPU.*CPU'): assert T.has_gpu() is False
    monkeypatch.setattr(T, '_nvidia_device_nodes', lambda: [])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        assert T.has_gpu() is False   # no GPU and none on the machine: nothing to say
