"Property tests of seg_imbalance.losses: non-negativity, confident-correct ≈ 0, extreme logits, half precision, all-ignored batches, agreement with SMP."
import math, pickle
import pytest, torch, torch.nn.functional as F
from hypothesis import given, settings, assume, strategies as st, HealthCheck
import segmentation_models_pytorch.losses as smpl
from segmentation_models_pytorch.losses._functional import softmax_focal_loss_with_logits
from seg_imbalance.losses import (WeightedCrossEntropy, FocalLoss, DiceLoss, TverskyLoss, FocalTverskyLoss,
                                  LovaszSoftmaxLoss, ComboLoss, DynamicWeights, batch_counts, soft_confusion,
                                  weighted_cross_entropy, focal_loss, tversky_loss, lovasz_softmax, _LovaszSoftmax,
                                  OHEMCrossEntropy, ohem_cross_entropy)
from seg_imbalance.pixel_losses import _PixelLoss

IGN = 255
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PER_LOSS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # × 17 losses

# (name, factory(C) -> loss); every loss with the options that change its code path
LOSSES = {
    'ce': lambda c: WeightedCrossEntropy(ignore_index=IGN),
    'wce': lambda c: WeightedCrossEntropy(weight=torch.linspace(.2, 3, c), ignore_index=IGN),
    'wce_batch': lambda c: WeightedCrossEntropy(weight='batch', ignore_index=IGN),
    'wce_running': lambda c: WeightedCrossEntropy(weight=DynamicWeights(power=.5, momentum=.9, cap=5.), ignore_index=IGN),
    'focal': lambda c: FocalLoss(ignore_index=IGN),
    'focal_alpha_w': lambda c: FocalLoss(gamma=.5, alpha=torch.linspace(.1, 1, c), weight='batch', ignore_index=IGN),
    'dice': lambda c: DiceLoss(ignore_index=IGN),
    'dice_img_absent': lambda c: DiceLoss(ignore_index=IGN, per_image=True, count_absent=True, smooth=1.),
    'tversky': lambda c: TverskyLoss(ignore_index=IGN, weight=torch.linspace(1, 2, c)),
    'tversky_batchw': lambda c: TverskyLoss(ignore_index=IGN, weight='batch', per_image=True),
    'focal_tversky': lambda c: FocalTverskyLoss(ignore_index=IGN),
    'focal_tversky_075': lambda c: FocalTverskyLoss(gamma=.75, ignore_index=IGN, reduction='sum', smooth=1., count_absent=True),
    'lovasz': lambda c: LovaszSoftmaxLoss(ignore_index=IGN),
    'lovasz_img': lambda c: LovaszSoftmaxLoss(ignore_index=IGN, per_image=True, count_absent=True),
    'ohem': lambda c: OHEMCrossEntropy(min_kept=5, ignore_index=IGN),
    'ohem_share_w': lambda c: OHEMCrossEntropy(thresh=.5, min_kept=.3, weight='batch', ignore_index=IGN),
    'combo': lambda c: ComboLoss(DiceLoss(ignore_index=IGN), FocalLoss(ignore_index=IGN), loss_weights=[1., .5]),
}
REDUCTIONS = ('mean', 'sum', 'none')


@st.composite
def batches(draw, max_c=5):
    "Random logits (N, C, H, W) and targets with some ignored pixels, from a drawn seed"
    n, c, h, w = draw(st.integers(1, 3)), draw(st.integers(2, max_c)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    scale = draw(st.sampled_from([.1, 1., 5.]))
    x = torch.randn(n, c, h, w, generator=g) * scale
    y = torch.randint(0, c, (n, h, w), generator=g)
    y[torch.rand(n, h, w, generator=g) < draw(st.sampled_from([0., .2]))] = IGN
    return x, y


def _loss_grad(loss, x, y):
    x = x.detach().clone().requires_grad_()
    l = loss(x, y)
    g, = torch.autograd.grad(l.sum(), x)
    return l, g


# ---------------------------------------------------------------- properties of every loss

@pytest.mark.parametrize('name', LOSSES)
@PER_LOSS
@given(b=batches())
def test_nonnegative_finite(name, b):
    x, y = b
    l, g = _loss_grad(LOSSES[name](x.shape[1]), x, y)
    assert l.dtype == torch.float32 and torch.isfinite(l).all() and (l >= 0).all(), l
    assert torch.isfinite(g).all()


@pytest.mark.parametrize('name', LOSSES)
@PER_LOSS
@given(b=batches())
def test_confident_correct_is_near_zero(name, b):
    x, y = b
    c = x.shape[1]
    conf = 25. * F.one_hot(y.clamp_max(c - 1), c).permute(0, 3, 1, 2).float()
    l = LOSSES[name](c)(conf, y)
    assert float(l) < 1e-4, float(l)


@pytest.mark.parametrize('name', LOSSES)
@settings(max_examples=6, deadline=None)
@given(b=batches(), sign=st.sampled_from([-1., 1.]))
def test_extreme_logits(name, b, sign):
    "Logits of ±1e4 (confidently right or confidently wrong): finite loss and gradients"
    x, y = b
    x = torch.where(torch.rand_like(x) < .5, sign * 1e4, -sign * 1e4)
    l, g = _loss_grad(LOSSES[name](x.shape[1]), x, y)
    assert torch.isfinite(l).all() and (l >= 0).all() and torch.isfinite(g).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('name', LOSSES)
@settings(max_examples=4, deadline=None)
@given(b=batches())
def test_half_precision_inputs(name, dtype, b):
    "Half-precision logits: computed in float32 (same value as the upcast logits), gradient in the input dtype"
    x, y = b
    xh = x.to(dtype)
    lh, gh = _loss_grad(LOSSES[name](x.shape[1]), xh, y)
    l32 = LOSSES[name](x.shape[1])(xh.float(), y)
    assert lh.dtype == torch.float32 and gh.dtype == dtype
    assert torch.isfinite(lh).all() and torch.isfinite(gh.float()).all()
    torch.testing.assert_close(lh, l32)


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('name', LOSSES)
@settings(max_examples=3, deadline=None)
@given(b=batches())
def test_all_ignored_is_zero(name, reduction, b):
    "Every pixel ignored: loss 0, gradient exactly 0, never NaN"
    x, _ = b
    loss = LOSSES[name](x.shape[1]); loss.reduction = reduction
    l, g = _loss_grad(loss, x, torch.full(x.shape[:1] + x.shape[2:], IGN))
    assert (l == 0).all() and (g == 0).all(), (l, g.abs().max())


@pytest.mark.parametrize('name', LOSSES)
@settings(max_examples=6, deadline=None)
@given(b=batches())
def test_ignored_pixels_contribute_nothing(name, b):
    "Changing the logits of ignored pixels changes neither the loss nor the other gradients; theirs is 0"
    x, y = b
    ign = (y == IGN)[:, None].expand_as(x)
    l1, g1 = _loss_grad(LOSSES[name](x.shape[1]), x, y)
    l2, g2 = _loss_grad(LOSSES[name](x.shape[1]), torch.where(ign, 7 * torch.randn_like(x), x), y)
    torch.testing.assert_close(l1, l2)
    torch.testing.assert_close(g1, g2)
    assert (g1[ign] == 0).all()


@pytest.mark.parametrize('name', LOSSES)
def test_reductions_shapes_and_fastai_api(name):
    x, y = torch.randn(2, 4, 5, 3), torch.randint(0, 4, (2, 5, 3))
    loss = LOSSES[name](4)
    assert loss(x, y).shape == ()
    loss.reduction = 'none'
    out = loss(x, y)
    assert out.shape[0] == 2 and out.reshape(2, -1).shape[0] == 2   # what fastai's get_preds(with_loss=True) reshapes
    loss.reduction = 'mean'
    torch.testing.assert_close(loss.activation(x), x.softmax(1))
    assert (loss.decodes(x) == x.argmax(1)).all()
    assert float(pickle.loads(pickle.dumps(loss))(x, y)) == pytest.approx(float(loss(x, y)), rel=1e-5)
    with pytest.raises(ValueError, match="reduction"): loss.reduction = 'avg'


@pytest.mark.parametrize('name', LOSSES)
def test_bad_inputs_name_themselves(name):
    loss, x = LOSSES[name](3), torch.randn(2, 3, 4, 4)
    y = torch.randint(0, 3, (2, 4, 4)); y[1, 2, 2] = 7
    with pytest.raises(ValueError, match=r"class codes \[7\] outside 0\.\.2"): loss(x, y)
    y[1, 2, 2] = -1
    with pytest.raises(ValueError, match=r"\[-1\]"): loss(x, y)
    with pytest.raises(ValueError, match=r"targ shape \(2, 4, 5\) does not match inp shape \(2, 3, 4, 4\)"):
        loss(x, torch.zeros(2, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="integer class codes"): loss(x, torch.zeros(2, 4, 4))


def test_autocast_computes_in_float32():
    x, y = torch.randn(2, 3, 8, 8, requires_grad=True), torch.randint(0, 3, (2, 8, 8))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        for name, f in LOSSES.items():
            l = f(3)(x, y)
            assert l.dtype == torch.float32, name
            torch.testing.assert_close(l, f(3)(x.detach(), y), msg=name)


# ---------------------------------------------------------------- equalities

@SETTINGS
@given(b=batches(), per_image=st.booleans(), count_absent=st.booleans(), smooth=st.sampled_from([0., 1.]),
       weighted=st.booleans(), reduction=st.sampled_from(REDUCTIONS))
def test_tversky_half_half_is_dice(b, per_image, count_absent, smooth, weighted, reduction):
    x, y = b
    if count_absent and smooth == 0: smooth = .5
    kw = dict(ignore_index=IGN, per_image=per_image, count_absent=count_absent, smooth=smooth, reduction=reduction,
              weight=torch.arange(1., x.shape[1] + 1) if weighted else None)
    torch.testing.assert_close(TverskyLoss(.5, .5, **kw)(x, y), DiceLoss(**kw)(x, y))
    torch.testing.assert_close(FocalTverskyLoss(gamma=1., **kw)(x, y), TverskyLoss(**kw)(x, y))


@SETTINGS
@given(b=batches(), weighted=st.booleans())
def test_focal_gamma0_is_cross_entropy(b, weighted):
    x, y = b
    w = torch.linspace(.5, 2, x.shape[1]) if weighted else None
    torch.testing.assert_close(FocalLoss(gamma=0., weight=w, ignore_index=IGN)(x, y),
                               WeightedCrossEntropy(weight=w, ignore_index=IGN)(x, y))
    if (y != IGN).any():
        torch.testing.assert_close(weighted_cross_entropy(x, y, w, IGN), F.cross_entropy(x, y, w, ignore_index=IGN))


@SETTINGS
@given(b=batches(), gamma=st.sampled_from([.5, 1., 2., 3.]))
def test_focal_by_formula(b, gamma):
    "FL = Σ α_t (1 − p_t)^γ (−log p_t) / #counted, computed the direct way"
    x, y = b
    c, keep = x.shape[1], y != IGN
    alpha = torch.linspace(.1, 1, c)
    def direct(x):   # in float64: in float32 p_t rounds to 1 for large logit gaps and (1 - p_t)^γ has a NaN gradient
        logp = x.double().log_softmax(1).gather(1, y.clamp(0, c - 1)[:, None])[:, 0]
        return ((alpha.double()[y.clamp(0, c - 1)] * (1 - logp.exp()) ** gamma * -logp)[keep].sum()
                / keep.sum().clamp_min(1)).float()
    got, g_got = _loss_grad(lambda x, y: focal_loss(x, y, gamma, alpha, ignore_index=IGN), x, y)
    want, g_want = _loss_grad(lambda x, y: direct(x), x, y)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(g_got, g_want, rtol=1e-4, atol=1e-6)   # the fused backward


@SETTINGS
@given(b=batches(), thresh=st.sampled_from([None, .3, .7, 1.]), min_kept=st.sampled_from([0, 3, 20, 1000, .25]),
       weighted=st.booleans())
def test_ohem_by_formula(b, thresh, min_kept, weighted):
    "OHEM = weighted CE over K = {p_t < thresh} ∪ {the min_kept lowest p_t}, computed the direct way (sort all valid pixels)"
    x, y = b
    c, valid = x.shape[1], (y != IGN).flatten()
    w = torch.linspace(.5, 2, c) if weighted else torch.ones(c)
    t = y.clamp(0, c - 1).flatten()
    logp = x.log_softmax(1).permute(0, 2, 3, 1).reshape(-1, c).gather(1, t[:, None])[:, 0]
    pt, nll = logp.exp()[valid], -logp[valid]
    m = min(int(math.ceil(min_kept * len(pt))) if isinstance(min_kept, float) else min_kept, len(pt))
    keep = pt < (thresh if thresh is not None else -1)
    if keep.sum() < m: keep = torch.zeros_like(keep); keep[pt.argsort()[:m]] = True
    wt = w[t[valid]] * keep
    want = (wt * nll).sum() / wt.sum() if wt.sum() > 0 else torch.tensor(0.)
    got, g = _loss_grad(lambda x, y: ohem_cross_entropy(x, y, thresh, min_kept, w if weighted else None, IGN), x, y)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    easy = torch.ones_like(valid)                                          # ignored, or easier than every kept pixel
    easy[valid.nonzero()[:, 0]] = pt > pt[keep].max() if keep.any() else True   # (ties at the boundary may go either way)
    assert (g.permute(0, 2, 3, 1).reshape(-1, c)[easy] == 0).all()       # pixels not kept: no gradient
    if min_kept == 1000:
        torch.testing.assert_close(got, weighted_cross_entropy(x, y, w if weighted else None, IGN))


@SETTINGS
@given(b=batches())
def test_soft_confusion_by_one_hot(b):
    x, y = b
    c, keep = x.shape[1], (y != IGN)[:, None].float()
    p, oh = x.softmax(1) * keep, F.one_hot(y.clamp(0, c - 1), c).permute(0, 3, 1, 2) * keep
    tp, fp, fn = soft_confusion(x, y, IGN, per_image=True)
    torch.testing.assert_close(tp, (p * oh).sum((2, 3)))
    torch.testing.assert_close(fp, (p * (1 - oh)).sum((2, 3)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fn, ((1 - p) * oh).sum((2, 3)), atol=1e-5, rtol=1e-5)


def test_hand_computed_cases():
    p1 = torch.tensor([.9, .8, .2, .1])
    x, y = torch.log(torch.stack([1 - p1, p1]))[None, :, None], torch.tensor([[[1, 1, 1, 0]]])
    assert float(tversky_loss(x, y)) == pytest.approx(1 - (1.9 / 2.7 + .9 / 1.3) / 2, rel=1e-6)
    assert float(DiceLoss()(x, y)) == pytest.approx(1 - (3.8 / 5 + 1.8 / 3) / 2, rel=1e-6)
    assert float(FocalTverskyLoss(reduction='sum')(x, y)) == pytest.approx((1 - 1.9 / 2.7) ** (4 / 3) + (1 - .9 / 1.3) ** (4 / 3), rel=1e-5)
    pl = torch.tensor([.6, .3])
    assert float(lovasz_softmax(torch.log(torch.stack([1 - pl, pl]))[None], torch.tensor([[1, 0]]))) == pytest.approx(.375, rel=1e-6)
    x2 = torch.log(torch.tensor([[.25, .25], [.75, .75]]))[None]
    assert float(weighted_cross_entropy(x2, torch.tensor([[1, 0]]), [1., 2.])) == pytest.approx((2 * 0.2876821 + 1.3862944) / 3, rel=1e-6)


def test_dynamic_weights():
    w = DynamicWeights(smooth=0., cap=None)(torch.tensor([800, 150, 50]))
    torch.testing.assert_close((w * torch.tensor([.8, .15, .05])).sum(), torch.tensor(1.))
    torch.testing.assert_close(w, torch.tensor([1 / .8, 1 / .15, 1 / .05]) / 3)
    assert DynamicWeights(smooth=0., cap=4.)(torch.tensor([800, 150, 50])).max() == 4.
    assert torch.isfinite(DynamicWeights()(torch.tensor([1000, 0, 0]))).all()
    x, y = torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5))
    torch.testing.assert_close(WeightedCrossEntropy(weight='batch')(x, y),
                               WeightedCrossEntropy(weight=DynamicWeights()(batch_counts(y, 3)))(x, y))
    with pytest.raises(ValueError, match='momentum'): DynamicWeights(momentum=1.)
    with pytest.raises(ValueError, match=r"weight has shape \(2,\) but inp has 3 classes"): WeightedCrossEntropy(weight=[1, 2])(x, y)


# ---------------------------------------------------------------- agreement with segmentation_models_pytorch

def _all_present(x, y):
    c = x.shape[1]
    assume(y.numel() >= c)
    y = y.clone(); y.view(-1)[:c] = torch.arange(c)        # every class present in the batch
    return x, y


@SETTINGS
@given(b=batches(), smooth=st.sampled_from([0., 1.]))
def test_dice_tversky_match_smp(b, smooth):
    "Same definitions when every class is present (SMP divides by all C classes, we by the present ones)"
    x, y = _all_present(*b)
    torch.testing.assert_close(DiceLoss(ignore_index=IGN, smooth=smooth)(x, y),
                               smpl.DiceLoss('multiclass', smooth=smooth, ignore_index=IGN)(x, y))
    torch.testing.assert_close(TverskyLoss(ignore_index=IGN, smooth=smooth)(x, y),
                               smpl.TverskyLoss('multiclass', alpha=.3, beta=.7, smooth=smooth, ignore_index=IGN)(x, y))
    w = torch.rand(x.shape[1]) + .1
    torch.testing.assert_close(DiceLoss(weight=w, ignore_index=IGN)(x, y),
                               smpl.DiceLoss('multiclass', class_weights=w.tolist(), ignore_index=IGN)(x, y))
    # with absent classes the two differ by the factor present / C
    y2 = torch.where(y == x.shape[1] - 1, IGN, y)
    present = ((batch_counts(y2, x.shape[1], IGN)) > 0).sum()
    torch.testing.assert_close(DiceLoss(ignore_index=IGN)(x, y2) * present / x.shape[1],
                               smpl.DiceLoss('multiclass', ignore_index=IGN)(x, y2))


@SETTINGS
@given(b=batches(), per_image=st.booleans())
def test_lovasz_matches_smp_value_and_gradient(b, per_image):
    "Same values and gradients; per image, SMP 0.6 returns an empty tensor when an image is all ignored (we skip it)"
    x, y = b
    assume(not per_image or (y != IGN).flatten(1).any(1).all())
    l1, g1 = _loss_grad(LovaszSoftmaxLoss(ignore_index=IGN, per_image=per_image), x, y)
    l2, g2 = _loss_grad(smpl.LovaszLoss('multiclass', per_image=per_image, ignore_index=IGN), x, y)
    torch.testing.assert_close(l1, torch.as_tensor(l2, dtype=torch.float32))
    torch.testing.assert_close(g1, g2)


@SETTINGS
@given(b=batches())
def test_focal_matches_smp_softmax_focal(b):
    "SMP's softmax focal functional (no ignore, no weights); SMP's FocalLoss class is one-vs-rest sigmoid"
    x, y = b
    y = y.clamp_max(x.shape[1] - 1)
    torch.testing.assert_close(FocalLoss()(x, y), softmax_focal_loss_with_logits(x, y), rtol=1e-5, atol=1e-6)


@SETTINGS
@given(b=batches())
def test_ce_matches_smp_soft_ce(b):
    "SMP averages over all pixels (ignored as zeros), we over the counted ones"
    x, y = b
    keep = (y != IGN).sum()
    torch.testing.assert_close(WeightedCrossEntropy(ignore_index=IGN)(x, y) * keep / y.numel(),
                               smpl.SoftCrossEntropyLoss(smooth_factor=0., ignore_index=IGN)(x, y))


def test_lovasz_gradcheck():
    "The hand-written backward of the Lovász-softmax function against finite differences (float64)"
    g = torch.Generator().manual_seed(0)
    for per_image in (False, True):
        p = torch.randn(2, 3, 7, generator=g, dtype=torch.float64).softmax(1).requires_grad_()
        t = torch.randint(0, 3, (2, 7), generator=g)
        ign = torch.zeros(2, 7, dtype=torch.bool); ign[0, :2] = True
        assert torch.autograd.gradcheck(lambda p: _LovaszSoftmax.apply(p, t.masked_fill(ign, 0), ign, per_image), (p,))


@pytest.mark.parametrize('gamma', [0., .5, 1., 2.])
def test_pixel_loss_gradcheck(gamma):
    "The fused backward of cross-entropy / focal terms against finite differences (float64)"
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 6, generator=g, dtype=torch.float64).requires_grad_()
    t = torch.randint(0, 4, (2, 6), generator=g)
    ign = torch.zeros(2, 6, dtype=torch.bool); ign[1, :2] = True
    a = torch.rand(4, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: _PixelLoss.apply(x, t, ign, a, gamma), (x,))
