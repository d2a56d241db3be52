"Run ids must not change: a study finds its finished runs by them, so a change to the config classes that renamed them would redo every run"
import pytest
from radtl.runconfig import RunConfig
from radtl.study import preset_study, PRESETS, EXTERNAL_PRESETS

D = dict(roots=['/data/brain'])
CASES = {
 'default': dict(data=D),
 'densenet-imagenet': dict(data=dict(D, image_size=224), backbone='densenet121', weights='imagenet', recipe='two-phase', seed=1),
 'radimagenet-caffe': dict(data=dict(D, split='official', clean_test=False), backbone='densenet121', weights='radimagenet', preprocessing='caffe_255', seed=2),
 'kfold': dict(data=dict(D, split='kfold', n_folds=3, fold=2), backbone='smallcnn', weights=None, recipe='linear-eval'),
 'patients-fraction': dict(data=dict(D, patients='/data/pid.csv', fraction=0.1, split_seed=7), backbone='efficientnetv2s', weights='imagenet', recipe='finetune-all'),
 'reference': dict(data=dict(D, reference=['/data/figshare'], reference_patients='/data/figshare-pid.csv'), backbone='convnext_tiny', weights='imagenet'),
 'file-weights': dict(data=D, backbone='densenet121', weights='/w/densenet121.simclr.weights.h5', recipe='linear-eval', seed=3),
 'random-recipe': dict(data=D, backbone='densenet121', weights='imagenet', recipe='random-finetune-all'),
 'double': dict(data=D, intermediate=dict(roots=['/data/other'], fraction=1.0), backbone='densenet121', weights='imagenet', recipe='double-finetune'),
 'options': dict(data=dict(D, image_size=64, resize='pad', aliases={'tumor': 'glioma'}), backbone='smallcnn', recipe='two-phase', n_unfrozen=5,
                 batch_size=16, epochs_scale=0.5, augment=None, weights_dirs=['/w'], deterministic=True, mixed_precision='off', jit_compile='on', feature_cache=False),
 'recipe-dict': dict(data=dict(D, image_size=64), backbone='smallcnn', recipe=dict(name='mine', phases=[dict(name='h', trainable='head', lr=1e-3, epochs=3)])),
}

# computed with radtl at dd9d793 (before the modules were split), the ids long real-data runs were started on
IDS = {
    "default": "densenet121-random-two-phase-s0-5d453611",
    "densenet-imagenet": "densenet121-imagenet-two-phase-s1-9ccac819",
    "radimagenet-caffe": "densenet121-radimagenet-two-phase-s2-019ae72f",
    "kfold": "smallcnn-random-linear-eval-s0-f2-4357438b",
    "patients-fraction": "efficientnetv2s-imagenet-finetune-all-s0-0006d1dc",
    "reference": "convnext_tiny-imagenet-two-phase-s0-1f22a5b7",
    "file-weights": "densenet121-densenet121.simclr.weights-linear-eval-s3-0e2b2841",
    "random-recipe": "densenet121-random-random-finetune-all-s0-2eb4a1c9",
    "double": "densenet121-imagenet-double-finetune-s0-56f586c0",
    "options": "smallcnn-random-two-phase-s0-77c45c19",
    "recipe-dict": "smallcnn-random-mine-s0-edb726fb"
}

@pytest.mark.parametrize('name', sorted(CASES))
def test_run_id_is_pinned(name):
    assert RunConfig.from_dict(CASES[name]).run_id == IDS[name]

# every preset's grid on data /data/brain, at dd9d793
PRESET_IDS = {
    "brain-mri-pretraining": [
        "convnext_tiny-imagenet-two-phase-s0-6b48a1ea",
        "convnext_tiny-imagenet-two-phase-s1-ff1e4978",
        "convnext_tiny-imagenet-two-phase-s2-4ed20c60",
        "densenet121-imagenet-two-phase-s0-004d4c90",
        "densenet121-imagenet-two-phase-s1-9ccac819",
        "densenet121-imagenet-two-phase-s2-7fc217fd",
        "densenet121-radimagenet-two-phase-s0-623bcb42",
        "densenet121-radimagenet-two-phase-s1-d721893f",
        "densenet121-radimagenet-two-phase-s2-7b4d86b1",
        "efficientnetv2s-imagenet-two-phase-s0-9f8d4347",
        "efficientnetv2s-imagenet-two-phase-s1-a2723514",
        "efficientnetv2s-imagenet-two-phase-s2-87a76002"
    ],
    "five-settings": [
        "densenet121-imagenet-pretrained-finetune-all-s0-3d279052",
        "densenet121-imagenet-pretrained-finetune-all-s1-3e150bca",
        "densenet121-imagenet-pretrained-finetune-all-s2-bddfa146",
        "densenet121-imagenet-pretrained-finetune-top-s0-f12f86f0",
        "densenet121-imagenet-pretrained-finetune-top-s1-11d916f3",
        "densenet121-imagenet-pretrained-finetune-top-s2-b3d5e70f",
        "densenet121-imagenet-pretrained-frozen-s0-c8be595b",
        "densenet121-imagenet-pretrained-frozen-s1-28c7cfc1",
        "densenet121-imagenet-pretrained-frozen-s2-3fa6324a",
        "densenet121-radimagenet-pretrained-finetune-all-s0-b7fbf04d",
        "densenet121-radimagenet-pretrained-finetune-all-s1-4dd133e7",
        "densenet121-radimagenet-pretrained-finetune-all-s2-e7e4f661",
        "densenet121-radimagenet-pretrained-finetune-top-s0-09e77cf5",
        "densenet121-radimagenet-pretrained-finetune-top-s1-fed8fc65",
        "densenet121-radimagenet-pretrained-finetune-top-s2-78f428f4",
        "densenet121-radimagenet-pretrained-frozen-s0-de003240",
        "densenet121-radimagenet-pretrained-frozen-s1-a6eed48e",
        "densenet121-radimagenet-pretrained-frozen-s2-93a7af1b",
        "densenet121-random-random-finetune-all-s0-31af9afd",
        "densenet121-random-random-finetune-all-s1-8491f8a2",
        "densenet121-random-random-finetune-all-s2-56a9817b",
        "densenet121-random-random-finetune-top-s0-93441b68",
        "densenet121-random-random-finetune-top-s1-d3cbb6a4",
        "densenet121-random-random-finetune-top-s2-b11e6015"
    ],
    "data-fractions": [
        "densenet121-imagenet-finetune-all-s0-449b6df9",
        "densenet121-imagenet-finetune-all-s0-6f096b9b",
        "densenet121-imagenet-finetune-all-s0-ebc256af",
        "densenet121-imagenet-finetune-all-s1-004aff5f",
        "densenet121-imagenet-finetune-all-s1-00fa492a",
        "densenet121-imagenet-finetune-all-s1-15b809ec",
        "densenet121-imagenet-finetune-all-s2-85468147",
        "densenet121-imagenet-finetune-all-s2-baf62864",
        "densenet121-imagenet-finetune-all-s2-caff3b79",
        "densenet121-imagenet-finetune-all-s3-6fb6fda9",
        "densenet121-imagenet-finetune-all-s3-d5676be7",
        "densenet121-imagenet-finetune-all-s3-f0364f12",
        "densenet121-imagenet-linear-eval-s0-143d2df0",
        "densenet121-imagenet-linear-eval-s0-4de61d54",
        "densenet121-imagenet-linear-eval-s0-a917bd2b",
        "densenet121-imagenet-linear-eval-s1-4c9decda",
        "densenet121-imagenet-linear-eval-s1-580e6a7a",
        "densenet121-imagenet-linear-eval-s1-5a382c6e",
        "densenet121-imagenet-linear-eval-s2-6a5e122e",
        "densenet121-imagenet-linear-eval-s2-972b19a0",
        "densenet121-imagenet-linear-eval-s2-dec4a479",
        "densenet121-imagenet-linear-eval-s3-4578d651",
        "densenet121-imagenet-linear-eval-s3-ce9e0ee2",
        "densenet121-imagenet-linear-eval-s3-f08af6d7",
        "densenet121-radimagenet-finetune-all-s0-1b6bc4f6",
        "densenet121-radimagenet-finetune-all-s0-61854a15",
        "densenet121-radimagenet-finetune-all-s0-facc4dc6",
        "densenet121-radimagenet-finetune-all-s1-03465543",
        "densenet121-radimagenet-finetune-all-s1-2fe4d99d",
        "densenet121-radimagenet-finetune-all-s1-bb5e2829",
        "densenet121-radimagenet-finetune-all-s2-545588a8",
        "densenet121-radimagenet-finetune-all-s2-651f2935",
        "densenet121-radimagenet-finetune-all-s2-72d4fc40",
        "densenet121-radimagenet-finetune-all-s3-59a99482",
        "densenet121-radimagenet-finetune-all-s3-7bf9fbb2",
        "densenet121-radimagenet-finetune-all-s3-a373c753",
        "densenet121-radimagenet-linear-eval-s0-18f57dc5",
        "densenet121-radimagenet-linear-eval-s0-222621c5",
        "densenet121-radimagenet-linear-eval-s0-4587fa9f",
        "densenet121-radimagenet-linear-eval-s1-7e41ac2e",
        "densenet121-radimagenet-linear-eval-s1-92f4c93a",
        "densenet121-radimagenet-linear-eval-s1-efe72960",
        "densenet121-radimagenet-linear-eval-s2-4b89693d",
        "densenet121-radimagenet-linear-eval-s2-6eac23b2",
        "densenet121-radimagenet-linear-eval-s2-e4d658a6",
        "densenet121-radimagenet-linear-eval-s3-0e4f2411",
        "densenet121-radimagenet-linear-eval-s3-9891e37a",
        "densenet121-radimagenet-linear-eval-s3-d32ba610"
    ],
    "double-finetuning": [
        "densenet121-imagenet-double-finetune-s0-ce9097c9",
        "densenet121-imagenet-double-finetune-s1-6fb2dfc6",
        "densenet121-imagenet-double-finetune-s2-4d515d3c",
        "densenet121-imagenet-two-phase-s0-004d4c90",
        "densenet121-imagenet-two-phase-s1-9ccac819",
        "densenet121-imagenet-two-phase-s2-7fc217fd",
        "densenet121-radimagenet-double-finetune-s0-ea763ba4",
        "densenet121-radimagenet-double-finetune-s1-b3ddecdb",
        "densenet121-radimagenet-double-finetune-s2-c7ed8c84",
        "densenet121-radimagenet-two-phase-s0-623bcb42",
        "densenet121-radimagenet-two-phase-s1-d721893f",
        "densenet121-radimagenet-two-phase-s2-7b4d86b1"
    ],
    "brain-mri-cpu": [   # with reference /data/figshare and /data/figshare-pid.csv, at the commit that added the preset
        "smallcnn-random-random-finetune-all-s0-25a557db",
        "smallcnn-random-random-finetune-all-s0-3e6d79a4",
        "smallcnn-random-random-finetune-all-s0-e43aae7d",
        "smallcnn-random-random-finetune-all-s1-20fd30d1",
        "smallcnn-random-random-finetune-all-s1-878a0e83",
        "smallcnn-random-random-finetune-all-s1-f311f6d4",
        "smallcnn-random-random-finetune-all-s2-44fb2690",
        "smallcnn-random-random-finetune-all-s2-a43ca2c0",
        "smallcnn-random-random-finetune-all-s2-bf16458e",
        "smallcnn-simclr-finetune-all-s0-8e6bed86",
        "smallcnn-simclr-finetune-all-s0-999076cf",
        "smallcnn-simclr-finetune-all-s0-c98c688c",
        "smallcnn-simclr-finetune-all-s1-22cfaa24",
        "smallcnn-simclr-finetune-all-s1-8216b913",
        "smallcnn-simclr-finetune-all-s1-93c4e996",
        "smallcnn-simclr-finetune-all-s2-4024e991",
        "smallcnn-simclr-finetune-all-s2-755e906f",
        "smallcnn-simclr-finetune-all-s2-82fa8290"
    ],
    "in-domain-pretraining": [
        "densenet121-imagenet-finetune-all-s0-349b0694",
        "densenet121-imagenet-finetune-all-s1-1f7a2010",
        "densenet121-imagenet-finetune-all-s2-3fa50b3b",
        "densenet121-imagenet-linear-eval-s0-901d4fc5",
        "densenet121-imagenet-linear-eval-s1-60fe7dbf",
        "densenet121-imagenet-linear-eval-s2-a89b6582",
        "densenet121-radimagenet-finetune-all-s0-73f5fa72",
        "densenet121-radimagenet-finetune-all-s1-65404864",
        "densenet121-radimagenet-finetune-all-s2-73bc4071",
        "densenet121-radimagenet-linear-eval-s0-66490e1c",
        "densenet121-radimagenet-linear-eval-s1-80916e3c",
        "densenet121-radimagenet-linear-eval-s2-2061c891",
        "densenet121-random-finetune-all-s0-7e432090",
        "densenet121-random-finetune-all-s1-e4d7fd9f",
        "densenet121-random-finetune-all-s2-5f704109",
        "densenet121-random-linear-eval-s0-2db4ee74",
        "densenet121-random-linear-eval-s1-7b583600",
        "densenet121-random-linear-eval-s2-3eef82a1",
        "densenet121-simclr-finetune-all-s0-b14566a7",
        "densenet121-simclr-finetune-all-s1-476c4c53",
        "densenet121-simclr-finetune-all-s2-04aad765",
        "densenet121-simclr-imagenet-finetune-all-s0-ed46f010",
        "densenet121-simclr-imagenet-finetune-all-s1-e3cbe8b0",
        "densenet121-simclr-imagenet-finetune-all-s2-e9b23d48",
        "densenet121-simclr-imagenet-linear-eval-s0-58c8bcb8",
        "densenet121-simclr-imagenet-linear-eval-s1-09aae53a",
        "densenet121-simclr-imagenet-linear-eval-s2-dbd81026",
        "densenet121-simclr-linear-eval-s0-516ccec3",
        "densenet121-simclr-linear-eval-s1-d2bc03fe",
        "densenet121-simclr-linear-eval-s2-6c77303f"
    ]
}
# the external-validation presets (issue 20): the brain-mri-pretraining grid of the two DenseNets, the same ids on the same data
PRESET_IDS['brain-mri-external'] = PRESET_IDS['brain-mri-external-reverse'] = [
    "densenet121-imagenet-two-phase-s0-004d4c90", "densenet121-imagenet-two-phase-s1-9ccac819", "densenet121-imagenet-two-phase-s2-7fc217fd",
    "densenet121-radimagenet-two-phase-s0-623bcb42", "densenet121-radimagenet-two-phase-s1-d721893f", "densenet121-radimagenet-two-phase-s2-7b4d86b1"]

@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_preset_run_ids_are_pinned(preset, tmp_path):
    external = {EXTERNAL_PRESETS[preset][1]: ['/data/other']} if preset in EXTERNAL_PRESETS else None
    st = preset_study(preset, data=['/data/brain'], out=tmp_path / 'st', intermediate=['/data/inter'], external=external,
                      **(REF if preset == 'brain-mri-cpu' else {}))
    assert [c.run_id for c in st.runs()] == PRESET_IDS[preset]

REF = dict(reference=['/data/figshare'], reference_patients='/data/figshare-pid.csv')

def test_conditions_keep_the_ids_of_their_data_written_out(tmp_path):
    "A condition names runs without changing them: brain-mri-cpu's runs are those of one study file per condition, as computed before the preset"
    import yaml
    from radtl.study import PRESETS, load_study
    st = preset_study('brain-mri-cpu', data=['/data/brain'], out=tmp_path / 'st', condition_weights='/w', **REF)
    d = yaml.safe_load(PRESETS['brain-mri-cpu'])
    refs = {'$REFERENCE': REF['reference'], '$REFERENCE_PATIENTS': REF['reference_patients']}
    by_file = {}
    for name, c in d['conditions'].items():
        data = {**d['data'], 'roots': ['/data/brain'], **{k: refs.get(v, v) for k, v in c['data'].items()}}
        f = dict(d, data=data, out=str(tmp_path / name)); f.pop('conditions')
        by_file.update({cfg.run_id: name for cfg in load_study(f).runs()})
    assert st.condition_of() == by_file and len(by_file) == 18
