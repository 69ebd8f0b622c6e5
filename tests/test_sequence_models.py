"""GPT and CharLSTM: causality, normalisation over every sequence, sampling, bad inputs."""

import itertools

import pytest
import torch

from gdl.autoregressive import CharLSTM
from gdl.data import Vocabulary
from gdl.transformer import GPT, GPTConfig

V, T = 4, 5  # tiny vocabulary (boundary + 3 characters) and length


def make_gpt(**kw):
    return GPT(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=8, **kw)


def make_lstm():
    return CharLSTM(vocab_size=V, max_len=T, embed_dim=4, hidden=8)


MODELS = {"GPT": make_gpt, "CharLSTM": make_lstm}


def sharpen(model, factor=3.0):
    """Scale the weights up: a far-from-uniform model makes the checks meaningful."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model


# ---------------------------------------------------------------------------- causality


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


def gradient_violations(model) -> list[tuple[int, int]]:
    """Pairs (t, s), s > t, with a non-zero gradient of the logits at t w.r.t. embedding s."""
    e = model.embed(torch.randint(0, V, (2, T))).detach().requires_grad_(True)
    logits = model.logits_from_embeddings(e)  # (B, T, V)
    bad = []
    for t in range(T):
        (grad,) = torch.autograd.grad(logits[:, t].sum(), e, retain_graph=True)
        bad += [(t, s) for s in range(t + 1, T) if grad[:, s].abs().max() > 0]
        # ... and the check is not vacuous: position t does depend on every s <= t.
        assert all(grad[:, s].abs().max() > 0 for s in range(t + 1)), (t, grad.abs().amax((0, 2)))
    return bad


@pytest.mark.parametrize("name", MODELS)
def test_editing_later_tokens_leaves_earlier_logits_unchanged(name):
    assert edit_violations(MODELS[name]()) == []


@pytest.mark.parametrize("name", MODELS)
def test_logits_at_t_have_no_gradient_from_embeddings_after_t(name):
    assert gradient_violations(MODELS[name]()) == []


def test_the_causality_checks_catch_a_gpt_without_its_mask(monkeypatch):
    model = make_gpt()
    for block in model.blocks:  # every query may now look at every key
        monkeypatch.setattr(block.attn, "mask", torch.ones_like(block.attn.mask))
    assert edit_violations(model) == list(range(T - 1))
    violations = gradient_violations(model)
    assert sorted(violations) == [(t, s) for t in range(T) for s in range(t + 1, T)]


def test_attention_maps_are_causal_and_normalised():
    model = make_gpt()
    att = model.attention(torch.randint(0, V, (3, T)))
    assert att.shape == (2, 3, 2, T, T)
    assert torch.allclose(att.sum(-1), torch.ones(2, 3, 2, T))
    assert (att.triu(diagonal=1) == 0).all()


# ---------------------------------------------------------------------------- likelihood


def every_sequence() -> torch.Tensor:
    """Every canonical sequence of at most T letters: letters, the end token, then padding."""
    rows = []
    for length in range(T + 1):
        for letters in itertools.product(range(1, V), repeat=length):
            rows.append(list(letters) + [0] * (T - length))
    return torch.tensor(rows)


@pytest.mark.parametrize("name", MODELS)
def test_probabilities_of_every_sequence_sum_to_one(name):
    # 1 + 3 + ... + 3^5 = 364 sequences; those shorter than T pay for their end token.
    model = sharpen(MODELS[name]())
    everything = every_sequence()
    assert len(everything) == sum(3**n for n in range(T + 1))
    with torch.no_grad():
        p = model.log_prob(everything).double().exp()
    assert abs(p.sum().item() - 1.0) < 1e-5
    assert p.max() > 5 / len(everything)  # far from uniform, so the sum is a real check


@pytest.mark.parametrize("name", MODELS)
def test_log_prob_ignores_tokens_after_the_end_and_counts_the_end_token(name):
    model = MODELS[name]()
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


# ---------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("name", MODELS)
def test_sampling_with_a_seed_is_reproducible_and_canonical(name):
    model = sharpen(MODELS[name](), 2.0)
    torch.manual_seed(1)
    a = model.sample(50, temperature=1.3, top_k=3)
    torch.manual_seed(1)
    b = model.sample(50, temperature=1.3, top_k=3)
    assert torch.equal(a, b) and a.shape == (50, T)
    # After the first end token everything is padding.
    assert ((a == 0) | model.token_mask(a)).all() and (a * ~model.token_mask(a) == 0).all()


@pytest.mark.parametrize("name", MODELS)
def test_low_temperature_and_top_k_one_give_the_greedy_path(name):
    model = sharpen(MODELS[name]())
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


# ---------------------------------------------------------------------------- bad inputs


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


@pytest.mark.parametrize("name", MODELS)
def test_bad_sampling_and_data_arguments_name_the_argument(name):
    model = MODELS[name]()
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


def test_gpt_refuses_a_context_longer_than_its_block():
    with pytest.raises(ValueError, match="block_size"):
        make_gpt().logits(torch.zeros(1, T + 1, dtype=torch.long))
