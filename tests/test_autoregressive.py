"""gdl.autoregressive: causality by autograd, normalisation on tiny spaces, sampling, bad input.

The pixel models (:class:`~gdl.autoregressive.pixels.PixelARM` and its subclasses) share one
parametrised set of checks, and so do the token models
(:class:`~gdl.autoregressive.sequence.TokenARM`); what is a model's own is tested after them.
"""

import itertools
import math

import pytest
import torch

from gdl import data, fit, metrics
from gdl.autoregressive import GPT, MADE, CausalConvARM, CharLSTM, GPTConfig, PixelCNN
from gdl.data import Vocabulary
from gdl.nn import CausalConv1d, MaskedConv2d, MaskedLinear

from helpers import assert_normalised, dependencies, every_image, sampling_frequencies, sharpen, violations

# ------------------------------------------------------------------------------ pixel models
ORDER = [3, 0, 5, 1, 4, 2]


def _made(event_shape=(1, 2, 3), num_levels=3):
    D = int(torch.Size(event_shape).numel())
    ordering = ORDER if D == 6 else torch.randperm(D, generator=torch.Generator().manual_seed(1))
    return MADE(event_shape=event_shape, num_levels=num_levels, hidden=[12, 12], ordering=ordering)


#: name -> factory of a small model (by default of (1, 2, 3) images with 3 levels), in a random
#: generation order for MADE
PIXEL_MODELS = {
    "CausalConvARM": lambda event_shape=(1, 2, 3): CausalConvARM(
        event_shape=event_shape, num_levels=3, hidden=6, kernel_size=3, num_layers=3),
    "MADE": _made,
    "MADE (binary)": lambda event_shape=(1, 2, 3): _made(event_shape, num_levels=2),
    "PixelCNN": lambda event_shape=(1, 2, 3): PixelCNN(event_shape=event_shape, num_levels=3, hidden=6, num_blocks=2),
}


def _break_first_mask(model) -> None:
    """Let the first layer see the value it predicts: the bug every causality check must catch."""
    if isinstance(model, CausalConvARM):
        first = model.net[0]
        assert isinstance(first, CausalConv1d) and first.exclude_current
        first.exclude_current, first.left_pad = False, first.left_pad - 1  # now "type B"
    elif isinstance(model, MADE):
        model.net.net[-1].mask.fill_(1.0)  # outputs may see every hidden unit, so every input
    else:
        assert model.h_in.mask_type == "A"
        model.h_in.mask.copy_(MaskedConv2d(1, 1, 7, mask_type="B").mask)  # sees x_ij itself


def pixel_dependencies(model) -> dict[int, list[int]]:
    inp = torch.rand(2, *model.event_shape, generator=torch.Generator().manual_seed(0))
    return dependencies(model.logits, inp, lambda logits, d: logits[:, d])


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixel_logits_depend_exactly_on_the_dimensions_before_them(name):
    model = PIXEL_MODELS[name]()
    order = model.generation_order()
    seen = pixel_dependencies(model)
    assert violations(seen, order) == []
    # Not vacuous: every model here sees the whole past of each dimension (no blind spot).
    for r, d in enumerate(order):
        assert seen[d] == sorted(order[:r]), (d, seen[d])


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_the_causality_check_catches_a_broken_mask(name):
    model = PIXEL_MODELS[name]()
    _break_first_mask(model)
    bad = violations(pixel_dependencies(model), model.generation_order())
    assert bad


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixel_probabilities_of_a_tiny_space_sum_to_one(name):
    model = sharpen(PIXEL_MODELS[name](event_shape=(1, 2, 2)), 5.0)
    assert_normalised(model.log_prob(every_image(model.event_shape, model.num_levels)))


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_a_broken_mask_breaks_normalisation(name):
    model = sharpen(PIXEL_MODELS[name](event_shape=(1, 2, 2)))
    _break_first_mask(model)
    log_p = model.log_prob(every_image(model.event_shape, model.num_levels)).double()
    assert abs(torch.logsumexp(log_p, 0).item()) > 1e-3


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixel_sampling_frequencies_match_log_prob(name):
    model = sharpen(PIXEL_MODELS[name](event_shape=(1, 1, 2)))
    probs = model.log_prob(every_image(model.event_shape, model.num_levels)).exp().double()
    freq = sampling_frequencies(model.sample(20_000), model.num_levels)
    # Standard error of a frequency from 20 000 draws is at most 0.0036; allow 5 of them.
    assert torch.allclose(freq, probs, atol=0.018)


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_low_temperature_gives_the_greedy_path(name):
    model = sharpen(PIXEL_MODELS[name](), 2.0)
    x = torch.zeros(1, model.dims, dtype=torch.long)
    with torch.no_grad():
        for i in model.generation_order():  # the greedy path, by hand, from the full pass
            x[0, i] = model.logits(model.encode(x.view(1, *model.event_shape)))[0, i].argmax()
    samples = model.sample(5, temperature=1e-4)
    assert torch.equal(samples.view(5, -1), x.expand(5, -1))


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixel_models_reject_bad_input_with_clear_errors(name):
    model = PIXEL_MODELS[name]()
    top = model.num_levels - 1
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_prob(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match=f"integers in 0..{top}"):
        model.log_prob(torch.full((2, *model.event_shape), top + 1))
    with pytest.raises(ValueError, match="integers"):
        model.log_prob(torch.zeros(2, *model.event_shape))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        model.log_prob([[0, 1]])
    for temperature in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            model.sample(2, temperature=temperature)
    with pytest.raises(ValueError, match="num_levels"):
        type(model)(num_levels=1)


def test_causal_conv_output_depends_on_every_input_in_its_receptive_field():
    # 3 layers of 3 taps: position i sees i-1 .. i-7. The causality check is not vacuous.
    model = CausalConvARM(event_shape=(1, 4, 4), num_levels=5, hidden=6, kernel_size=3, num_layers=3)
    seen = pixel_dependencies(model)
    assert seen[10] == list(range(3, 10))


def test_made_seed_draws_a_reproducible_permutation():
    a, b = MADE(event_shape=(10,), seed=1), MADE(event_shape=(10,), seed=1)
    assert torch.equal(a.ordering, b.ordering)
    assert sorted(a.ordering.tolist()) == list(range(10))
    assert a.ordering.tolist() != list(range(10))
    assert MADE(event_shape=(10,)).ordering.tolist() == list(range(10))


def test_made_connectivity_is_its_ordering():
    model = _made()
    rank = {d: r for r, d in enumerate(ORDER)}
    expected = torch.tensor([[rank[j] < rank[d] for j in range(6)] for d in range(6)])
    assert torch.equal(model.net.connectivity(), expected)


def test_made_rejects_bad_orderings_and_sizes_with_clear_errors():
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        MADE(event_shape=(4,), ordering=[0, 1, 1, 2])
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        MADE(event_shape=(4,), ordering=[0, 1, 2])
    with pytest.raises(ValueError, match="ordering or seed"):
        MADE(event_shape=(4,), ordering=[0, 1, 2, 3], seed=0)
    with pytest.raises(ValueError, match="hidden"):
        MADE(event_shape=(4,), hidden=[])
    with pytest.raises(ValueError, match="num_layers"):
        CausalConvARM(num_layers=1)


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_pixelcnn_row_by_row_sampler_gives_the_logits_of_the_full_pass(kernel_size):
    # The sampler reruns only row i of the horizontal stack; its logits must be the full pass's.
    model = sharpen(PixelCNN(event_shape=(1, 6, 5), num_levels=3, hidden=6, num_blocks=2, kernel_size=kernel_size))
    x = torch.randint(0, 3, (4, 1, 6, 5))
    with torch.no_grad():
        full = model.feature_logits(model.encode(x))  # (4, K, 6, 5)
        for i in range(6):
            row = model._row_logits(x, i, model._vertical_row(x, i))
            assert torch.allclose(row, full[:, :, i], atol=1e-5), f"row {i}"


def test_pixelcnn_complete_keeps_known_pixels_and_fills_the_rest():
    model = PixelCNN(event_shape=(1, 4, 4), num_levels=3, hidden=6, num_blocks=2)
    x = torch.randint(0, 3, (6, 1, 4, 4))
    known = torch.zeros(1, 4, 4, dtype=torch.bool)
    known[:, :2] = True  # the top half
    out = model.complete(x, known)
    assert out.shape == x.shape and out.dtype == torch.long
    assert torch.equal(out[:, :, :2], x[:, :, :2])
    assert 0 <= out.min() and out.max() <= 2
    # An all-known mask returns the input unchanged, and nothing is drawn.
    assert torch.equal(model.complete(x, torch.ones_like(x, dtype=torch.bool)), x)


def test_pixelcnn_complete_of_a_top_half_draws_from_the_exact_conditional():
    # Two pixels, the first known: the second must follow p(x_2 | x_1) = p(x_1, x_2) / p(x_1).
    model = sharpen(PixelCNN(event_shape=(1, 1, 2), num_levels=3, hidden=6, num_blocks=1))
    x = torch.tensor([[[[2, 0]]]]).expand(20_000, -1, -1, -1)
    known = torch.tensor([[[True, False]]])
    out = model.complete(x, known)
    freq = torch.bincount(out[:, 0, 0, 1], minlength=3).double() / len(out)
    joint = model.log_prob(torch.tensor([[[[2, k]]] for k in range(3)])).exp().double()
    assert torch.allclose(freq, joint / joint.sum(), atol=0.018)


def test_pixelcnn_rejects_bad_masks_and_sizes_with_clear_errors():
    model = PixelCNN(event_shape=(1, 2, 2), num_levels=3, hidden=6, num_blocks=1)
    x = torch.zeros(2, 1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="known must be a boolean"):
        model.complete(x, torch.ones(2, 1, 2, 2))
    with pytest.raises(ValueError, match="known must have the shape"):
        model.complete(x, torch.ones(3, 1, 2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="event_shape"):
        PixelCNN(event_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="kernel_size"):
        PixelCNN(kernel_size=4)
    with pytest.raises(ValueError, match="dropout"):
        PixelCNN(dropout=1.0)
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, mask_type="C")
    with pytest.raises(ValueError, match="mask must have shape"):
        MaskedLinear(3, 2, mask=torch.ones(3, 3))


def test_training_lowers_the_nll_of_digits():
    x, _ = data.digits("train")
    model = CausalConvARM(hidden=16, num_layers=3)
    before = metrics.nll(model, x[:200])
    fit(model, x, steps=60, batch_size=64, lr=3e-3, seed=0, progress=False, log_every=0)
    after = metrics.nll(model, x[:200])
    assert after < before - 20


# ------------------------------------------------------------------------------ token models
V, T = 4, 5  # tiny vocabulary (boundary + 3 characters) and length


def make_gpt(**kw):
    return GPT(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=8, **kw)


def make_lstm():
    return CharLSTM(vocab_size=V, max_len=T, embed_dim=4, hidden=8)


TOKEN_MODELS = {"GPT": make_gpt, "CharLSTM": make_lstm}


def edit_violations(model) -> list[int]:
    """Positions t whose logits change when the tokens after t are edited."""
    idx = torch.randint(0, V, (3, T))
    before = model.logits(idx)
    bad = []
    for t in range(T - 1):
        edited = idx.clone()
        edited[:, t + 1 :] = (edited[:, t + 1 :] + 1) % V
        after = model.logits(edited)
        if not torch.allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-6):
            bad.append(t)
    return bad


def token_dependencies(model) -> dict[int, list[int]]:
    """For each position t, the positions s whose embedding the logits at t have a gradient for."""
    e = model.embed(torch.randint(0, V, (2, T))).detach()  # (B, T, C)
    seen = dependencies(model.logits_from_embeddings, e, lambda logits, t: logits[:, t // e.shape[2]])
    channels = e.shape[2]
    return {t: sorted({j // channels for j in seen[t * channels]}) for t in range(T)}


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_editing_later_tokens_leaves_earlier_logits_unchanged(name):
    assert edit_violations(TOKEN_MODELS[name]()) == []


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_logits_at_t_depend_exactly_on_the_embeddings_up_to_t(name):
    seen = token_dependencies(TOKEN_MODELS[name]())
    assert seen == {t: list(range(t + 1)) for t in range(T)}


def test_the_causality_checks_catch_a_gpt_without_its_mask(monkeypatch):
    model = make_gpt()
    for block in model.blocks:  # every query may now look at every key
        monkeypatch.setattr(block.attn, "mask", torch.ones_like(block.attn.mask))
    assert edit_violations(model) == list(range(T - 1))
    assert token_dependencies(model) == {t: list(range(T)) for t in range(T)}


def test_attention_maps_are_causal_and_normalised():
    model = make_gpt()
    att = model.attention(torch.randint(0, V, (3, T)))
    assert att.shape == (2, 3, 2, T, T)
    assert torch.allclose(att.sum(-1), torch.ones(2, 3, 2, T))
    assert (att.triu(diagonal=1) == 0).all()


def every_sequence() -> torch.Tensor:
    """Every canonical sequence of at most T letters: letters, the end token, then padding."""
    rows = []
    for length in range(T + 1):
        for letters in itertools.product(range(1, V), repeat=length):
            rows.append(list(letters) + [0] * (T - length))
    return torch.tensor(rows)


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_probabilities_of_every_sequence_sum_to_one(name):
    # 1 + 3 + ... + 3^5 = 364 sequences; those shorter than T pay for their end token.
    model = sharpen(TOKEN_MODELS[name]())
    everything = every_sequence()
    assert len(everything) == sum(3**n for n in range(T + 1))
    with torch.no_grad():
        assert_normalised(model.log_prob(everything))


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_log_prob_ignores_tokens_after_the_end_and_counts_the_end_token(name):
    model = TOKEN_MODELS[name]()
    x = torch.tensor([[1, 2, 0, 0, 0], [1, 2, 0, 3, 1], [1, 2, 3, 0, 0]])
    lp = model.log_prob(x)
    assert torch.allclose(lp[0], lp[1])
    # Teacher forcing by hand: the sum of the three conditionals p(1 | .), p(2 | 1), p(0 | 1 2).
    with torch.no_grad():
        logp = model.logits(torch.tensor([[0, 1, 2]])).log_softmax(-1)[0]
    assert torch.allclose(lp[0], logp[0, 1] + logp[1, 2] + logp[2, 0], atol=1e-6)


def test_loss_is_the_mean_negative_log_prob():
    model = make_gpt()
    x = every_sequence()[::7]
    assert torch.allclose(model.loss(x), -model.log_prob(x).mean())


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_sampling_with_a_seed_is_reproducible_and_canonical(name):
    model = sharpen(TOKEN_MODELS[name](), 2.0)
    torch.manual_seed(1)
    a = model.sample(50, temperature=1.3, top_k=3)
    torch.manual_seed(1)
    b = model.sample(50, temperature=1.3, top_k=3)
    assert torch.equal(a, b) and a.shape == (50, T)
    # After the first end token everything is padding.
    assert ((a == 0) | model.token_mask(a)).all() and (a * ~model.token_mask(a) == 0).all()


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_low_temperature_and_top_k_one_give_the_greedy_token_path(name):
    model = sharpen(TOKEN_MODELS[name]())
    start = torch.randint(0, V, (6, 1))
    greedy = model.generate(start, 8, temperature=0)
    # The greedy path by hand: repeatedly append the argmax of the last position's logits.
    idx = start
    for _ in range(8):
        with torch.no_grad():
            logits = model.logits(idx[:, -T:])[:, -1]
        idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(greedy, idx)
    assert torch.equal(model.generate(start, 8, temperature=1e-4), greedy)
    assert torch.equal(model.generate(start, 8, temperature=1.0, top_k=1), greedy)


def test_top_k_only_draws_among_the_k_likeliest_tokens():
    model = sharpen(make_gpt())
    start = torch.zeros(2000, 1, dtype=torch.long)
    first = model.generate(start, 1, temperature=2.0, top_k=2)[:, 1]
    allowed = model.logits(start)[0, -1].topk(2).indices
    assert set(first.tolist()) == set(allowed.tolist())


def test_sample_text_decodes_with_the_vocabulary():
    vocab = Vocabulary("abc")
    model = make_lstm()
    texts = model.sample_text(20, vocab)
    assert len(texts) == 20 and all(set(s) <= set("abc") and len(s) <= T for s in texts)
    with pytest.raises(ValueError, match="vocab"):
        model.sample_text(2, Vocabulary("ab"))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n_embd": 10, "n_head": 3}, "n_embd"),
        ({"n_layer": 0}, "n_layer"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_gpt_config_names_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        GPTConfig(**kwargs)
    with pytest.raises(ValueError, match=word):
        GPT(**kwargs)


def test_gpt_config_is_frozen():
    with pytest.raises(AttributeError):
        GPTConfig().n_layer = 3


@pytest.mark.parametrize(
    "kwargs, word",
    [({"hidden": 0}, "hidden"), ({"max_len": 0}, "max_len"), ({"vocab_size": 1}, "vocab_size")],
)
def test_bad_lstm_arguments_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        CharLSTM(**kwargs)


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_bad_sampling_and_data_arguments_name_the_argument(name):
    model = TOKEN_MODELS[name]()
    start = torch.zeros(2, 1, dtype=torch.long)
    for kwargs, word in [
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": V + 1}, "top_k"),
    ]:
        with pytest.raises(ValueError, match=word):
            model.generate(start, 3, **kwargs)
        with pytest.raises(ValueError, match=word):
            model.sample(2, **kwargs)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(start, -1)
    with pytest.raises(ValueError, match="x must"):
        model.log_prob(torch.full((2, T), V))  # an id outside the vocabulary
    with pytest.raises(ValueError, match="x must"):
        model.log_prob(torch.zeros(2, T + 1, dtype=torch.long))  # wrong length
    with pytest.raises(ValueError, match="x must"):
        model.log_prob(torch.zeros(2, T))  # floats, not token ids
    # Generation and logits check token ids too: no IndexError from inside the embedding.
    with pytest.raises(ValueError, match=f"idx must hold integers in 0..{V - 1}"):
        model.generate(torch.tensor([[0, V]]), 2)
    with pytest.raises(ValueError, match="idx must"):
        model.logits(torch.tensor([[-1, 0]]))


def test_gpt_refuses_a_context_longer_than_its_block():
    with pytest.raises(ValueError, match="block_size"):
        make_gpt().logits(torch.zeros(1, T + 1, dtype=torch.long))


def test_bits_per_token_and_the_unigram_baseline():
    from gdl.autoregressive import unigram_bits_per_token

    model = sharpen(make_lstm())
    x = every_sequence()
    tokens = model.token_mask(x).sum().item()
    expected = -model.log_prob(x).sum().item() / (tokens * math.log(2))
    assert model.bits_per_token(x) == pytest.approx(expected, rel=1e-6)
    # a unigram fitted on the test data itself: its bits are the entropy of the token frequencies
    counts = torch.bincount(x[model.token_mask(x)], minlength=V).double()
    p = counts / counts.sum()
    assert unigram_bits_per_token(x, x, V) == pytest.approx(-(p * p.log2()).sum().item(), rel=1e-9)
