"""gdl.multimodal and gdl.data.captioned: the CLIP loss, the temperature clamp, zero-shot prompts,
the perceiver resampler and the gated cross-attention of Flamingo."""

import itertools
import math

import pytest
import torch

from gdl import GPT, data
from gdl.multimodal import CLIP, Flamingo, GatedCrossAttention, PerceiverResampler, clip_loss


# ---------------------------------------------------------------- captions
def test_tokenize_round_trip_and_padding():
    text = "a dark small ankle boot"
    ids = data.tokenize(text)
    assert ids.shape == (data.MAX_TOKENS,) and ids[-1] == 0
    assert data.detokenize(ids) == text
    assert data.tokenize([text, "a bag"]).shape == (2, data.MAX_TOKENS)


def test_tokenize_rejects_unknown_words_and_long_sentences():
    with pytest.raises(ValueError, match="unknown word"):
        data.tokenize("a purple bag")
    with pytest.raises(ValueError, match="texts must have"):
        data.tokenize("a photo of a dark small bag")


def test_missing_fashion_files_name_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(data.images, "FASHION_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        data.captioned_fashion_mnist("test")


def test_digit_captions_carry_class_and_stroke():
    x, tokens, y = data.captioned_digits("train")
    texts = [data.detokenize(t) for t in tokens]
    assert all(t.split()[-1] == data.DIGIT_WORDS[k] for t, k in zip(texts, y.tolist()))
    thick = data.stroke_labels("train").bool()
    ink = x.float().sum((1, 2, 3))
    for k in range(10):  # within a class, every thick digit has more ink than every thin one... at the median
        assert ink[(y == k) & thick].min() >= ink[(y == k) & ~thick].max() - 1e-6
        assert abs(thick[y == k].float().mean().item() - 0.5) < 0.1


@pytest.mark.skipif(not data.FASHION_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_fashion_captions_name_the_class_and_two_attributes():
    _, tokens, y = data.captioned_fashion_mnist("test")
    words = [data.detokenize(t).split() for t in tokens[:500]]
    assert all(w[1] in ("dark", "light") and w[2] in ("small", "large") for w in words)
    assert all(" ".join(w[3:]) == data.FASHION_WORDS[k] for w, k in zip(words, y[:500].tolist()))


# ---------------------------------------------------------------- the CLIP loss
@pytest.mark.parametrize("b", [1, 2, 7, 64])
def test_clip_loss_is_log_b_when_all_embeddings_are_equal(b):
    u = torch.nn.functional.normalize(torch.randn(1, 5), dim=-1).expand(b, 5)
    for scale in (1.0, 14.3, 100.0):
        assert clip_loss(u, u, scale).item() == pytest.approx(math.log(b), abs=1e-5)


def test_clip_loss_is_unchanged_by_permuting_the_pairs_jointly():
    u = torch.nn.functional.normalize(torch.randn(9, 4), dim=-1)
    v = torch.nn.functional.normalize(u + 0.5 * torch.randn(9, 4), dim=-1)  # matched, imperfectly
    loss = clip_loss(u, v, 7.0)
    for _ in range(5):
        p = torch.randperm(9)
        assert clip_loss(u[p], v[p], 7.0).item() == pytest.approx(loss.item(), rel=1e-6)
    # permuting one side alone breaks the pairs: the loss must notice
    assert clip_loss(u, v[torch.roll(torch.arange(9), 1)], 7.0) > loss + 0.1


def test_clip_loss_is_symmetric_in_images_and_texts():
    u = torch.nn.functional.normalize(torch.randn(6, 3), dim=-1)
    v = torch.nn.functional.normalize(torch.randn(6, 3), dim=-1)
    assert clip_loss(u, v, 3.0).item() == pytest.approx(clip_loss(v, u, 3.0).item(), rel=1e-6)


def _tiny_clip():
    return CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=8, width=4, text_dim=8)


def test_learned_temperature_is_clamped():
    model = _tiny_clip()
    with torch.no_grad():
        model.log_logit_scale.fill_(20.0)
    assert model.logit_scale.item() == pytest.approx(model.max_logit_scale)
    x, tokens, _ = data.captioned_digits("test")
    model.loss(x[:8], tokens[:8]).backward()
    assert model.log_logit_scale.grad.item() == 0.0  # beyond the clamp the temperature stops moving


def test_clip_checks_its_input():
    model = _tiny_clip()
    x, tokens, _ = data.captioned_digits("test")
    with pytest.raises(ValueError, match="x must"):
        model.loss(x[:4] + 20, tokens[:4])
    with pytest.raises(ValueError, match="tokens must"):
        model.loss(x[:4], torch.zeros_like(tokens[:4]))
    with pytest.raises(ValueError, match="same number of pairs"):
        model.loss(x[:4], tokens[:3])
    with pytest.raises(ValueError, match="temperature"):
        CLIP(temperature=0.0)


def test_zero_shot_picks_the_prompt_of_the_training_caption():
    # Train briefly on digits captions; the prompts of the right class must win more often than chance.
    torch.manual_seed(0)
    x, tokens, y = data.captioned_digits("train")
    model = _tiny_clip()
    opt = model.configure_optimizers(3e-3)
    for step in range(150):
        idx = torch.randint(0, len(x), (128,))
        loss = model.loss(x[idx], tokens[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    prompts = torch.stack([data.tokenize([f"a thin {w}", f"a thick {w}"]) for w in data.DIGIT_WORDS])
    xt, _, yt = data.captioned_digits("test")
    accuracy = (model.zero_shot(xt, prompts) == yt).float().mean().item()
    assert accuracy > 0.5


# ---------------------------------------------------------------- Flamingo
@pytest.mark.parametrize("n", [1, 3, 17, 64])
def test_resampler_output_shape_does_not_depend_on_the_number_of_image_tokens(n):
    r = PerceiverResampler(dim=8, num_latents=5, depth=2, num_heads=2)
    assert r(torch.randn(2, n, 8)).shape == (2, 5, 8)


def test_resampler_checks_its_input():
    r = PerceiverResampler(dim=8, num_latents=5, num_heads=2)
    with pytest.raises(ValueError, match="x must have shape"):
        r(torch.randn(2, 0, 8))
    with pytest.raises(ValueError, match="x must have shape"):
        r(torch.randn(2, 3, 7))


def _tiny_flamingo():
    lm = GPT(vocab_size=len(data.VOCAB), block_size=data.MAX_TOKENS, n_layer=2, n_head=2, n_embd=8)
    return Flamingo(lm, image_shape=(1, 8, 8), num_levels=17, num_latents=3, width=4)


def test_zero_gate_leaves_the_frozen_language_model_bit_identical():
    model = _tiny_flamingo()
    x, tokens, _ = data.captioned_digits("test")
    idx = torch.cat([torch.zeros(8, 1, dtype=torch.long), tokens[:8, :-1]], dim=1)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.logits(x[:8], idx), model.lm.logits(idx))
        for layer in model.cross:  # once a gate opens, the image gets through
            layer.attn_gate.fill_(0.5)
        assert not torch.equal(model.logits(x[:8], idx), model.lm.logits(idx))


def test_gated_cross_attention_starts_as_the_identity():
    layer = GatedCrossAttention(dim=8, num_heads=2)
    h = torch.randn(3, 4, 8)
    assert torch.equal(layer(h, torch.randn(3, 6, 8)), h)


def test_flamingo_trains_only_its_new_parts():
    model = _tiny_flamingo()
    x, tokens, _ = data.captioned_digits("test")
    frozen = {k: v.clone() for k, v in model.lm.state_dict().items()}
    opt = model.configure_optimizers(1e-2)
    for _ in range(3):
        loss = model.loss(x[:16], tokens[:16])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(v, model.lm.state_dict()[k]) for k, v in frozen.items())
    assert all(layer.attn_gate.item() != 0 for layer in model.cross)
    assert model.num_parameters() == sum(p.numel() for n, p in model.named_parameters() if not n.startswith("lm."))


def test_flamingo_log_prob_is_a_distribution_over_captions():
    # On a vocabulary of 3 and captions of length 2, the probabilities of all captions sum to 1.
    lm = GPT(vocab_size=3, block_size=2, n_layer=1, n_head=2, n_embd=8)
    model = Flamingo(lm, image_shape=(1, 8, 8), num_levels=17, num_latents=2, width=4)
    with torch.no_grad():
        for layer in model.cross:
            layer.attn_gate.fill_(1.0)
    captions = torch.tensor([c for c in itertools.product(range(3), repeat=2) if c[0] != 0 or c[1] == 0])
    x = torch.randint(0, 17, (1, 1, 8, 8)).expand(len(captions), -1, -1, -1)
    total = model.log_prob(x, captions).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)
    assert model.caption(x[:2]).shape == (2, 2)
