"""Chapter 11: the chorale data, the music transformer, MuseGAN, the measures and the synthesiser."""

import numpy as np
import pytest
import torch

from gdl import music
from gdl.autoregressive import MusicTransformer
from gdl.autoregressive.music import next_voice_and_onset
from gdl.data import music as chorale_data
from gdl.gan import MuseGAN

pytest.importorskip("music21")


# ---------------------------------------------------------------------- data
def test_tokenise_detokenise_preserves_tokens_and_duration_of_every_chorale():
    every = chorale_data._all_chorales()
    assert len(every) > 350
    for c in every:
        tokens = chorale_data.tokenise(c)
        back = chorale_data.detokenise(tokens)
        assert torch.equal(chorale_data.tokenise(back), tokens), c.name
        assert back.steps == c.steps, c.name
        assert torch.equal(back.roll(), c.roll()), c.name


def test_splits_are_disjoint_and_fixed():
    names = {s: [c.name for c in chorale_data.chorales(s)] for s in ("train", "val", "test")}
    assert not set(names["train"]) & set(names["val"])
    assert not set(names["train"]) & set(names["test"])
    assert not set(names["val"]) & set(names["test"])
    assert names["val"] == [c.name for c in chorale_data.chorales("val")]


def test_token_windows_start_with_the_voices_level():
    x, y = chorale_data.chorale_tokens("val", length=32, stride=16)
    assert x.shape[1:] == (32, 2) and len(x) == len(y)
    for w in x[:50]:
        c = chorale_data.detokenise(w)
        # level voices at the start: the first four notes begin together, one per voice
        assert all(len(v) > 0 for v in c.voices)


def test_bars_have_four_sounding_voices():
    x, _ = chorale_data.chorale_bars("val")
    assert x.shape[1:] == (2, 16, 4)
    assert (x != chorale_data.REST).all()


def test_missing_music21_names_the_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "music21" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="music21"):
        chorale_data._corpus_folder()


# ---------------------------------------------------------------------- the transformer
def test_transformer_logits_up_to_t_ignore_later_tokens():
    torch.manual_seed(0)
    model = MusicTransformer(block_size=12, n_layer=2, n_head=2, n_embd=16).eval()
    x, _ = chorale_data.chorale_tokens("val", length=12)
    a = x[:4].clone()
    t = 6
    b = a.clone()
    b[:, t + 1 :, 0] = torch.randint(2, 40, b[:, t + 1 :, 0].shape)
    b[:, t + 1 :, 1] = torch.randint(1, 9, b[:, t + 1 :, 1].shape)
    pa, da = model.logits(a)
    pb, db = model.logits(b)
    torch.testing.assert_close(pa[:, : t + 1], pb[:, : t + 1])
    torch.testing.assert_close(da[:, : t + 1], db[:, : t + 1])
    assert not torch.allclose(pa[:, t + 1 :], pb[:, t + 1 :])


def test_transformer_next_voice_matches_detokenise():
    x, _ = chorale_data.chorale_tokens("val", length=40)
    inputs = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
    voice, onset = next_voice_and_onset(inputs)
    for row in range(5):
        clocks = [0, 0, 0, 0]
        for t in range(40):
            if x[row, t, 0] == 0:
                break
            v = clocks.index(min(clocks))
            assert voice[row, t] == v and onset[row, t] == clocks[v]
            clocks[v] += int(x[row, t, 1])


def test_transformer_probabilities_sum_to_one_on_a_tiny_space():
    # pitch ids 0..2, duration ids 0..2, length 2: enumerate every valid sequence.
    torch.manual_seed(0)
    model = MusicTransformer(block_size=2, n_layer=1, n_head=1, n_embd=4, pitch_tokens=3, duration_tokens=3)
    seqs = [[[0, 0], [0, 0]]]
    for p1 in (1, 2):
        for d1 in (1, 2):
            seqs.append([[p1, d1], [0, 0]])
            for p2 in (1, 2):
                for d2 in (1, 2):
                    seqs.append([[p1, d1], [p2, d2]])
    total = model.log_prob(torch.tensor(seqs)).exp().sum()
    assert abs(total.item() - 1) < 1e-5


def test_transformer_sample_ends_cleanly():
    torch.manual_seed(0)
    model = MusicTransformer(block_size=10, n_layer=1, n_head=2, n_embd=8)
    s = model.sample(6)
    assert s.shape == (6, 10, 2)
    for row in s:
        ended = (row[:, 0] == 0).nonzero()
        if len(ended):
            assert (row[ended[0, 0] :] == 0).all()
        else:
            assert (row[:, 1] > 0).all()


# ---------------------------------------------------------------------- MuseGAN
def _musegan():
    torch.manual_seed(0)
    return MuseGAN(n_bars=2, steps_per_bar=4, n_tracks=4, lowest_pitch=40, n_pitches=8, z_dim=3,
                   hidden=16, critic_width=8).eval()


@pytest.mark.parametrize("stream", ["melody", "groove"])
def test_musegan_track_streams_reach_their_track_only(stream):
    model = _musegan()
    z = model.latents(5)
    base = model.generate_streams(**z, hard=False)
    for k in range(4):
        changed = dict(z)
        changed[stream] = z[stream].clone()
        changed[stream][:, k] += 1.0
        out = model.generate_streams(**changed, hard=False)
        for j in range(4):
            same = torch.allclose(out[..., j], base[..., j])
            assert same == (j != k), (stream, k, j)


@pytest.mark.parametrize("stream", ["chords", "style"])
def test_musegan_shared_streams_reach_every_track(stream):
    model = _musegan()
    z = model.latents(5)
    base = model.generate_streams(**z, hard=False)
    changed = dict(z)
    changed[stream] = z[stream] + 1.0
    out = model.generate_streams(**changed, hard=False)
    for j in range(4):
        assert not torch.allclose(out[..., j], base[..., j]), (stream, j)


def test_gradient_penalty_weights_are_per_example_uniform():
    torch.manual_seed(0)
    x = torch.zeros(4000, 2, 3, 5, 4)
    fake = torch.ones_like(x)
    x_hat = MuseGAN.interpolate(x, fake)
    eps = 1 - x_hat  # x_hat = eps * 0 + (1 - eps) * 1
    per_example = eps.flatten(1)
    assert torch.equal(per_example.min(1).values, per_example.max(1).values)  # one eps per example
    e = per_example[:, 0]
    assert e.min() >= 0 and e.max() <= 1
    assert abs(e.mean() - 0.5) < 0.02 and abs(e.var() - 1 / 12) < 0.01  # U[0, 1]


def test_gradient_penalty_norm_covers_every_non_batch_axis():
    # A linear critic C(x) = <w, x> has gradient w everywhere: the penalty is (|w| - 1)^2, with
    # the norm over bars, steps, pitches *and* tracks. The book's norm leaves out the tracks axis.
    model = MuseGAN(n_bars=2, steps_per_bar=4, n_tracks=3, lowest_pitch=40, n_pitches=5, z_dim=2,
                    hidden=8, critic_width=4)
    w = torch.randn(2, 4, 5, 3, generator=torch.Generator().manual_seed(1))

    class Linear(torch.nn.Module):
        def forward(self, x):
            return (x * w).flatten(1).sum(1, keepdim=True)

    model.discriminator = Linear()
    x, fake = torch.rand(6, 2, 4, 5, 3), torch.rand(6, 2, 4, 5, 3)
    penalty = model.gradient_penalty(x, fake)
    expected = (w.norm() - 1) ** 2
    torch.testing.assert_close(penalty, expected)
    book = (w.square().sum((0, 1, 2)).sqrt() - 1).square().mean()  # norm without the tracks axis
    assert not torch.allclose(penalty, book)


def test_musegan_trains_and_samples_pitches_in_range():
    model = _musegan().train()
    x = torch.randint(40, 48, (16, 2, 4, 4), generator=torch.Generator().manual_seed(0))
    opt = model.configure_optimizers(1e-3)
    for _ in range(3):
        logs = model.train_step(x, opt)
    assert np.isfinite(logs["loss"])
    s = model.sample(5)
    assert s.shape == (5, 2, 4, 4) and s.min() >= 40 and s.max() < 48
    with pytest.raises(ValueError, match="MIDI pitches"):
        model.train_step(x + 20, opt)


# ---------------------------------------------------------------------- measures and sound
def test_consonance_on_hand_made_chords():
    major = torch.tensor([[76, 67, 60, 48]])  # E G C C: a sixth, thirds, a fifth, an octave
    assert music.consonance(major) == 1.0
    cluster = torch.tensor([[71, 66, 60, 49]])  # fourths, a tritone, sevenths: no consonance
    assert music.consonance(cluster) == 0.0
    fourth = torch.tensor([[65, 60, 0, 0]])  # a fourth, with two resting voices
    assert music.consonance(fourth) == 0.0
    assert music.consonance(torch.cat([major, cluster])) == 0.5


def test_voice_crossing_on_hand_made_chords():
    ordered = torch.tensor([[72, 64, 55, 48]] * 3)
    assert music.voice_crossing(ordered) == 0.0
    crossed = torch.tensor([[72, 64, 55, 48], [60, 64, 55, 48], [72, 64, 55, 58], [72, 0, 75, 48]])
    # step 1: alto above soprano; step 2: bass above tenor; step 3: the alto rests
    assert music.voice_crossing(crossed) == 0.5


def test_measures_on_real_and_random_chorales():
    x, _ = chorale_data.chorale_bars("val")
    assert music.consonance(x) > 0.7 and music.voice_crossing(x) < 0.05
    g = torch.Generator().manual_seed(0)
    lo, hi = x.flatten(0, 2).min(0).values, x.flatten(0, 2).max(0).values
    rnd = torch.stack([torch.randint(int(lo[v]), int(hi[v]) + 1, x.shape[:3], generator=g) for v in range(4)], -1)
    assert music.consonance(rnd) < 0.55 and music.voice_crossing(rnd) > 0.5


def test_synthesiser_length_and_spectral_peaks():
    sr, step = 8000, 0.125
    roll = torch.tensor([[69, 0, 0, 0]] * 8 + [[0, 0, 0, 57]] * 8)  # A4 for a second, then A3
    audio = music.synthesise(roll, step_seconds=step, sample_rate=sr)
    assert audio.shape == (round(16 * step * sr),) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1
    for half, f in ((audio[:sr], 440.0), (audio[sr:], 220.0)):
        spectrum = np.abs(np.fft.rfft(half))
        peak = np.argmax(spectrum) * sr / len(half)
        assert abs(peak - f) <= 1.0
    chord = music.synthesise(torch.tensor([[76, 67, 60, 48]] * 16), sample_rate=sr)
    spectrum = np.abs(np.fft.rfft(chord))
    freqs = np.fft.rfftfreq(len(chord), 1 / sr)
    top = freqs[np.argsort(spectrum)[-40:]]
    for f in music.frequency([76, 67, 60, 48]):
        assert np.min(np.abs(top - f)) < 2.0, f


def test_audio_player_and_midi():
    player = music.play(torch.tensor([[76, 67, 60, 48]] * 8), title="A chord")
    html = player._repr_html_()
    assert "<audio controls" in html and "data:audio/wav;base64," in html
    assert "data:audio/midi;base64," in html
    assert music.Audio.shown[-1] is player
    music.Audio.shown.clear()
