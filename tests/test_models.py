"Every architecture × option of `seg_model` builds and trains a step; auxiliary heads, `AuxLoss`, pickling, errors."
import os, pickle
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
import pytest, torch
from torch import nn
from seg_imbalance.models import (ARCHS, AUX_ARCHS, seg_model, AuxLoss, AuxOutputCallback, AutocastCallback,
                                  autocast_ctx, smp_splitter, adapt_first_conv, load_encoder_weights,
                                  resolve_encoder_weights, encoder_norm_stats, band_sources, check_patch_size)
import seg_imbalance.models as models
from seg_imbalance.losses import WeightedCrossEntropy, FocalLoss, DiceLoss, ComboLoss

N_CLASSES = 3


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "One torch thread: on a shared 2-core machine two threads wait on each other and these tests run 5× slower"
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
OPTIONS = {'plain': {}, 'dilated': dict(context='dilated'), 'aux': dict(aux=2)}


def size(arch): return 128 if arch == 'PAN' else 32   # PAN's pyramid attention needs 8×8 at stride 16


def batch(arch, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = size(arch)
    return torch.randn(2, 3, s, s, generator=g), torch.randint(0, N_CLASSES, (2, s, s), generator=g)


@pytest.mark.parametrize('option', list(OPTIONS))
@pytest.mark.parametrize('arch', ARCHS)
def test_builds_and_trains(arch, option):
    kw = OPTIONS[option]
    if 'aux' in kw and arch not in AUX_ARCHS:
        with pytest.raises(ValueError, match=repr(arch)): seg_model(N_CLASSES, arch, **kw)
        return
    torch.manual_seed(0)
    m = seg_model(N_CLASSES, arch, **kw)
    x, y = batch(arch)
    out = m.train()(x)
    n_out = 1 + (kw.get('aux') or 0)
    outs = out if isinstance(out, tuple) else (out,)
    assert len(outs) == n_out and all(o.shape == (2, N_CLASSES, *x.shape[-2:]) for o in outs)
    loss = AuxLoss(WeightedCrossEntropy())(out, y)
    loss.backward()
    assert torch.isfinite(loss)
    groups = smp_splitter(m)
    assert sum(len(g) for g in groups) == len(list(m.parameters()))
    new = [*getattr(m, 'context', nn.Identity()).parameters(), *getattr(m, 'aux_heads', nn.Identity()).parameters()]
    assert all(p.grad is not None for p in new)                           # every new layer gets a gradient
    assert {id(p) for p in new} <= {id(p) for p in groups[1]}             # and trains with the decoder
    with torch.no_grad(): ev = m.eval()(x)
    assert isinstance(ev, torch.Tensor) and ev.shape == (2, N_CLASSES, *x.shape[-2:])


def test_aux_changes_training_loss_not_eval_output():
    x, y = batch('Unet')
    torch.manual_seed(0); plain = seg_model(N_CLASSES)
    torch.manual_seed(0); aux = seg_model(N_CLASSES, aux=3)
    with torch.no_grad():
        torch.testing.assert_close(aux.eval()(x), plain.eval()(x))
        torch.testing.assert_close(aux.predict(x), plain.predict(x))          # SMP's own inference entry point
        ce = WeightedCrossEntropy()
        l_plain, l_aux = AuxLoss(ce)(plain.train()(x), y), AuxLoss(ce)(aux.train()(x), y)
        main = aux.train()(x)[0]
    torch.testing.assert_close(main, plain.train()(x).detach())
    assert l_aux > l_plain + 1e-3


def test_context_is_identity_at_init_and_learns():
    x, y = batch('FPN')
    torch.manual_seed(0); plain = seg_model(N_CLASSES, 'FPN')
    torch.manual_seed(0); ctx = seg_model(N_CLASSES, 'FPN', context='dilated', dilations=(1, 3))
    with torch.no_grad(): torch.testing.assert_close(ctx.eval()(x), plain.eval()(x))
    opt = torch.optim.SGD(ctx.parameters(), lr=0.1)
    WeightedCrossEntropy()(ctx.train()(x), y).backward(); opt.step()
    assert ctx.context.fuse[1].weight.abs().sum() > 0
    assert [b[0].dilation for b in ctx.context.branches] == [(1, 1), (3, 3)]


@pytest.mark.parametrize('inner', [WeightedCrossEntropy(ignore_index=255), FocalLoss(ignore_index=255),
                                   DiceLoss(ignore_index=255),
                                   ComboLoss(DiceLoss(ignore_index=255), FocalLoss(ignore_index=255))])
def test_auxloss_plain_tensor_and_tuple(inner):
    g = torch.Generator().manual_seed(1)
    main, a1 = torch.randn(2, 2, 4, 8, 8, generator=g).unbind(0)
    targ = torch.randint(0, 4, (2, 8, 8), generator=g); targ[:, :2] = 255
    al = AuxLoss(inner, weight=0.25)
    torch.testing.assert_close(al(main, targ), inner(main, targ))
    torch.testing.assert_close(al((main,), targ), inner(main, targ))
    torch.testing.assert_close(al((main, a1), targ), inner(main, targ) + 0.25 * inner(a1, targ))
    assert al.ignore_index == 255                                         # ComboLoss: its parts' ignore index
    al.ignore_index = 0
    assert inner.ignore_index == 0 and al.ignore_index == 0
    if isinstance(inner, ComboLoss): assert [l.ignore_index for l in inner.losses] == [0, 0]
    al.ignore_index = 255
    # ignored pixels count nowhere: changing the logits there changes nothing
    main2 = main.clone(); main2[:, :, :2] += 5
    torch.testing.assert_close(al((main2, a1), targ), al((main, a1), targ))


def test_auxloss_passes_decodes_activation_reduction():
    ce = WeightedCrossEntropy()
    al = AuxLoss(ce)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(al.activation(x), x.softmax(1))
    assert torch.equal(al.decodes(x), x.argmax(1))
    al.reduction = 'none'
    assert ce.reduction == 'none' and al((x, x), torch.zeros(2, 8, 8, dtype=torch.long)).shape == (2, 8, 8)
    assert not hasattr(AuxLoss(lambda p, t: p.mean()), 'ignore_index')
    assert torch.equal(AuxLoss(lambda p, t: p.mean()).decodes(x), x)


@pytest.mark.parametrize('kw, match', [
    (dict(context='aspp'), "context must be None or 'dilated', got 'aspp'"),
    (dict(context='dilated', dilations=(1, 0)), 'dilations must be'),
    (dict(aux=7), 'aux must be'),
    (dict(aux=[0, 0]), 'aux must be'),
    (dict(arch='PSPNet', aux=1), "'PSPNet'"),
    (dict(arch='UNet'), "unknown arch 'UNet'"),
    (dict(aux=1, aux_params=dict(classes=2)), 'aux_params'),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match): seg_model(N_CLASSES, **kw)


def test_bad_auxloss_and_precision():
    with pytest.raises(ValueError, match='weight must be >= 0'): AuxLoss(WeightedCrossEntropy(), weight=-0.1)
    with pytest.raises(ValueError, match="reduce must be 'mean' or 'sum'"):
        AuxLoss(WeightedCrossEntropy(), reduce='max')
    with pytest.raises(ValueError, match="precision must be one of"): autocast_ctx('cpu', 'float16')
    with pytest.raises(ValueError, match="'fp16' is for CUDA"): autocast_ctx('cpu', 'fp16')
    with pytest.raises(ValueError, match="'bf16' only"): AutocastCallback('fp16')


@pytest.mark.parametrize('arch', list(ARCHS))
def test_check_patch_size_agrees_with_the_model(arch):
    "Each arch runs at the smallest side `check_patch_size` accepts and fails where it refuses (too small, not divisible)"
    low, div = models._size_rule(arch)
    m = seg_model(N_CLASSES, arch).eval()
    def runs(s):
        try:
            with torch.no_grad(): m(torch.zeros(1, 3, s, s))
            return True
        except RuntimeError: return False
    sizes = {low, low + div, *([low - div] if low - div > 0 else []), *([low + div // 2] if div > 1 else [])}
    for s in sorted(sizes):
        ok = runs(s)
        assert ok == (s >= low and s % div == 0), f"{arch} at {s} px: runs={ok}, rule (>= {low}, /{div})"
        if not ok:
            with pytest.raises(ValueError, match=f"arch '{arch}' needs patches of at least {low} px"): check_patch_size(arch, s)
        else: assert check_patch_size(arch, s) == s


@pytest.mark.parametrize('arch', ['Unet', 'UnetPlusPlus'])
def test_pickles_with_options(arch, tmp_path):
    x, _ = batch(arch)
    torch.manual_seed(0)
    m = seg_model(N_CLASSES, arch, context='dilated', aux=[0, 2])
    with torch.no_grad(): m.eval()(x)
    m2 = pickle.loads(pickle.dumps(m))
    torch.save(m, tmp_path / 'm.pth'); m3 = torch.load(tmp_path / 'm.pth', weights_only=False)
    with torch.no_grad():
        for mm in (m2, m3):
            torch.testing.assert_close(mm.eval()(x), m.eval()(x))
            assert len(mm.train()(x)) == 3
    assert m2.aux_heads.feats == {}


def test_learner_export_roundtrip(tmp_path):
    "fastai's export pickles the model with its hooks; the loaded learner predicts the same (one output)"
    from fastai.learner import Learner, load_learner
    from fastai.data.core import Datasets
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(4, 3, 64, 64, generator=g), torch.randint(0, N_CLASSES, (4, 64, 64), generator=g)
    dsets = Datasets(range(4), [[xs.__getitem__], [ys.__getitem__]], splits=[[0, 1, 2, 3], [0, 1, 2, 3]])
    dls = dsets.dataloaders(bs=2, num_workers=0)
    torch.manual_seed(0)
    learn = Learner(dls, seg_model(N_CLASSES, aux=2, context='dilated'),
                    loss_func=AuxLoss(WeightedCrossEntropy()), cbs=AuxOutputCallback())
    learn.fit(1, 1e-3)
    p1 = learn.get_preds()[0]
    learn.export(tmp_path / 'l.pkl')
    l2 = load_learner(tmp_path / 'l.pkl')
    l2.dls = dls
    torch.testing.assert_close(l2.get_preds()[0], p1)
    assert len(l2.model.train()(xs[:2])) == 3
    assert p1.shape == (4, N_CLASSES, 64, 64)


# ---------------------------------------------------------------- pretrained encoders on any band count

@pytest.fixture(scope='module')
def rgb_weights(tmp_path_factory):
    "A 3-band seg_model (random init) and its encoder state dict saved to a file"
    torch.manual_seed(0)
    m = seg_model(N_CLASSES)
    f = tmp_path_factory.mktemp('w') / 'enc.pth'
    torch.save(m.encoder.state_dict(), f)
    return m.encoder.state_dict(), f


@pytest.mark.parametrize('bands', [1, 4, 5])
def test_rgb_weights_into_any_band_count(rgb_weights, bands):
    sd, f = rgb_weights
    torch.manual_seed(1)
    m = seg_model(N_CLASSES, in_channels=bands, encoder_weights=f)
    own, w3 = m.encoder.state_dict(), sd['conv1.weight']
    want = {1: w3.sum(1, keepdim=True),
            4: torch.cat([w3, w3[:, :1]], 1) * 3 / 4,                           # by hand: R G B R, × 3/4
            5: adapt_first_conv(w3, 5)}[bands]
    torch.testing.assert_close(own['conv1.weight'], want)
    if bands == 5: torch.testing.assert_close(want, torch.cat([w3, w3[:, :2]], 1) * 3 / 5)
    assert set(own) == set(sd)
    for k, v in sd.items():
        if k != 'conv1.weight': assert torch.equal(own[k], v), k
    assert m.pretrained_bands == band_sources(bands)
    out = m.eval()(torch.randn(2, bands, 32, 32))
    assert out.shape == (2, N_CLASSES, 32, 32) and torch.isfinite(out).all()


def test_whole_model_checkpoint_and_safetensors(rgb_weights, tmp_path):
    from safetensors.torch import save_file
    sd, _ = rgb_weights
    save_file({f'encoder.{k}': v.contiguous() for k, v in sd.items()}, tmp_path / 'model.safetensors')
    m = load_encoder_weights(seg_model(N_CLASSES, in_channels=4), tmp_path / 'model.safetensors')
    torch.testing.assert_close(m.encoder.conv1.weight, adapt_first_conv(sd['conv1.weight'], 4))
    assert m.pretrained_bands == [[0], [1], [2], [0]]


def test_encoder_weights_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(models, 'try_to_load_from_cache', lambda *a, **k: None)   # whatever this machine's HF cache holds
    missing = tmp_path / 'nowhere' / 'enc.pth'
    with pytest.raises(ValueError, match=f'{missing} does not exist'): seg_model(N_CLASSES, encoder_weights=missing)
    with pytest.raises(ValueError, match=f'{missing} does not exist'): resolve_encoder_weights(str(missing), 'resnet18')
    with pytest.raises(ValueError, match='not on this machine') as e: resolve_encoder_weights('imagenet', 'resnet18', tmp_path)
    assert str(tmp_path / 'checkpoints' / 'resnet18.imagenet.safetensors') in str(e.value)
    assert 'huggingface.co/smp-hub/resnet18.imagenet' in str(e.value)
    with pytest.raises(ValueError, match='not on this machine'): seg_model(N_CLASSES, encoder_weights='imagenet')
    with pytest.raises(ValueError, match="has no weights 'imagenet21k'"): resolve_encoder_weights('imagenet21k', 'resnet18')
    with pytest.raises(ValueError, match='pass a weights file path'): resolve_encoder_weights('imagenet', 'tu-resnet18')
    assert resolve_encoder_weights(None, 'resnet18') is None


def test_named_weights_from_the_local_hub_folder(rgb_weights, tmp_path, monkeypatch):
    from safetensors.torch import save_file
    monkeypatch.setattr(models, 'try_to_load_from_cache', lambda *a, **k: None)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    sd, _ = rgb_weights
    (tmp_path / 'checkpoints').mkdir()
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / 'checkpoints' / 'resnet18.imagenet.safetensors')
    m = seg_model(N_CLASSES, in_channels=4, encoder_weights='imagenet')
    torch.testing.assert_close(m.encoder.conv1.weight, adapt_first_conv(sd['conv1.weight'], 4))


def test_encoder_norm_stats():
    assert encoder_norm_stats('resnet18', None, 4) is None
    mean, std = encoder_norm_stats('resnet18', 'imagenet', 4)
    assert mean == pytest.approx([.485, .456, .406, .485]) and std == pytest.approx([.229, .224, .225, .229])
    assert encoder_norm_stats('resnet18', 'imagenet', 1)[1] == pytest.approx([(.229 + .224 + .225) / 3])
    assert encoder_norm_stats('efficientnet-b0', 'advprop', 2) == ([.5, .5], [.5, .5])
    with pytest.raises(ValueError, match='in_channels must be a positive int'): encoder_norm_stats('resnet18', 'imagenet', 0)


def test_weights_path_is_a_deprecated_alias(rgb_weights):
    "`seg_model(weights_path=)` still loads the weights for one release, with a `DeprecationWarning` naming `encoder_weights`"
    sd, f = rgb_weights
    with pytest.warns(DeprecationWarning, match='weights_path is deprecated, use encoder_weights'):
        m = seg_model(N_CLASSES, weights_path=f)
    torch.testing.assert_close(m.encoder.conv1.weight, sd['conv1.weight'])
    with pytest.raises(ValueError, match='not both'): seg_model(N_CLASSES, encoder_weights=f, weights_path=f)
