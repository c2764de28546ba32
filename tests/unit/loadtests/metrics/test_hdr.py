"""The HDR wrapper: its inline index arithmetic is hdrh's, exact fields stay exact, merges are lossless."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import msgspec
import pytest
from hdrh.histogram import HdrHistogram

from loadtests.metrics.hdr import (
    COUNTS_LEN,
    HIGHEST,
    EncodedHistogram,
    Histogram,
    RankedBuckets,
    SparseHistogram,
    _highest_units,
    _index,
    _lowest_units,
    bucket_floor,
    bucket_index,
    merged_percentiles,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def reference() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST, 3)


def test_index_arithmetic_matches_hdrh_across_the_range() -> None:
    ref = reference()
    rng = random.Random(7)
    units = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 12_345, 10**6, HIGHEST - 1, HIGHEST]
    units += [rng.randrange(0, HIGHEST + 1) for _ in range(3000)]
    units += [int(10 ** rng.uniform(0, math.log10(HIGHEST))) for _ in range(3000)]
    for u in units:
        index = ref._counts_index_for(u)
        assert _index(u) == index, u
        value = ref.get_value_from_index(index)
        assert _lowest_units(index) == ref.get_lowest_equivalent_value(value), u
        assert _highest_units(index) == ref.get_highest_equivalent_value(value), u


def test_the_counts_length_is_hdrh_s_and_bucket_helpers_agree_with_it() -> None:
    ref = reference()
    assert ref.counts_len == COUNTS_LEN
    assert _index(HIGHEST) < COUNTS_LEN
    for value in (0.0, 0.0004, 1.0, 95.0, 1234.567, 9e9):
        index = bucket_index(value)
        assert index == ref._counts_index_for(min(int(value * 1000 + 0.5), HIGHEST))
        assert bucket_floor(index) <= min(value, HIGHEST / 1000)
        assert bucket_index(bucket_floor(index)) == index


def test_records_into_the_same_buckets_as_hdrh() -> None:
    ours, ref = Histogram(), reference()
    rng = random.Random(1)
    for _ in range(2000):
        value = rng.lognormvariate(3, 1.5)
        ours.record(value)
        ref.record_value(int(value * 1000 + 0.5))
    expected = [(i, ref.counts[i]) for i in range(ref.counts_len) if ref.counts[i]]
    assert ours.nonzero_buckets() == expected


def test_exact_count_sum_min_max_mean() -> None:
    h = Histogram()
    for v in (12.5, 0.25, 100.0, 7.125):
        h.record(v)
    assert h.count == 4
    assert h.sum == pytest.approx(119.875, abs=1e-12)
    assert h.min == 0.25
    assert h.max == 100.0
    assert h.mean == pytest.approx(119.875 / 4, abs=1e-12)


def test_empty_histogram_reads_as_zeros() -> None:
    h = Histogram()
    assert (h.count, h.sum, h.min, h.max, h.mean) == (0, 0.0, 0.0, 0.0, 0.0)
    assert h.percentile(95) == 0.0
    assert h.percentile_spectrum() == []


def test_percentiles_are_within_a_tenth_of_a_percent_and_inside_min_max() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 40) + 0.5 for _ in range(20_000)]
    h = Histogram()
    for v in values:
        h.record(v)
    ordered = sorted(values)
    for p in (1, 10, 50, 90, 95, 99, 99.9):
        exact = ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]
        assert h.percentile(p) == pytest.approx(exact, rel=1e-3, abs=1e-3), p
    assert h.percentile(0) == min(values)
    assert h.percentile(100) == max(values)
    assert h.percentiles([99, 50]) == [h.percentile(99), h.percentile(50)]


def test_percentile_outside_0_to_100_raises() -> None:
    h = Histogram()
    h.record(1.0)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        h.percentile(100.5)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        h.percentile(-1)


@pytest.mark.parametrize("bad", [-0.001, -5.0, float("nan"), float("inf")])
def test_negative_and_non_finite_values_raise(bad: float) -> None:
    h = Histogram()
    with pytest.raises(ValueError, match=r"non-negative|finite"):
        h.record(bad)
    assert h.count == 0


def test_values_above_the_range_are_clamped_and_counted_but_stay_exact() -> None:
    h = Histogram()
    h.record(10.0)
    h.record(5_000_000.0)  # 5000 s in ms: above one hour
    assert h.clamped == 1
    assert h.max == 5_000_000.0
    assert h.sum == pytest.approx(5_000_010.0)
    assert h.percentile(100) == 5_000_000.0
    assert h.percentile(99) >= 3_600_000.0 * 0.999, "the clamped sample sits in the top bucket"


def test_zero_is_recordable() -> None:
    h = Histogram()
    h.record(0.0)
    h.record(0.0004)  # rounds to 0 units
    assert h.count == 2
    assert h.percentile(50) == 0.0
    assert h.max == 0.0004


def test_encoded_struct_round_trips_exactly_through_msgpack_and_json() -> None:
    h = Histogram()
    for v in (0.5, 3.25, 3.25, 999.999, 12_000.0):
        h.record(v)
    encoded = h.to_struct()
    for codec in (msgspec.msgpack, msgspec.json):
        again = codec.decode(codec.encode(encoded), type=EncodedHistogram)
        assert Histogram.decode(again) == h


def test_encoding_is_standard_hdr_that_hdrh_reads() -> None:
    h = Histogram()
    for v in (1.0, 2.0, 250.0):
        h.record(v)
    foreign = HdrHistogram.decode(h.encode())
    assert foreign.get_total_count() == 3
    assert foreign.get_value_at_percentile(100) == pytest.approx(250_000, rel=1e-3)


def test_a_bare_blob_from_another_tool_decodes_with_approximate_exact_fields() -> None:
    ref = reference()
    for u in (1000, 2000, 250_000):
        ref.record_value(u)
    h = Histogram.decode(ref.encode().decode("ascii"))
    assert h.count == 3
    assert h.min == pytest.approx(1.0, rel=1e-3)
    assert h.max == pytest.approx(250.0, rel=1e-3)
    assert h.sum == pytest.approx(253.0, rel=1e-3)


def test_decode_rejects_garbage_and_a_count_mismatch() -> None:
    with pytest.raises(ValueError, match="not an HdrHistogram"):
        Histogram.decode("definitely not base64 hdr")
    h = Histogram()
    h.record(1.0)
    lying = msgspec.structs.replace(h.to_struct(), count=2)
    with pytest.raises(ValueError, match="holds 1 samples"):
        Histogram.decode(lying)


def test_merge_of_three_parts_equals_one_histogram_of_all_samples() -> None:
    rng = random.Random(11)
    samples = [rng.choice([rng.uniform(0, 5), rng.lognormvariate(4, 1), rng.uniform(0, 9e6)]) for _ in range(6000)]
    whole = Histogram()
    parts = [Histogram(), Histogram(), Histogram()]
    for v in samples:
        whole.record(v)
        parts[rng.randrange(3)].record(v)
    # Parts travel encoded, as they do from the workers; merged in another order than they were split.
    merged = Histogram()
    for part in (parts[2], parts[0], parts[1]):
        merged.merge(Histogram.decode(part.to_struct()))
    assert merged.nonzero_buckets() == whole.nonzero_buckets()
    assert (merged.count, merged.sum, merged.min, merged.max, merged.clamped) == (
        whole.count,
        whole.sum,
        whole.min,
        whole.max,
        whole.clamped,
    )
    assert merged == whole
    assert merged.encode() == whole.encode()
    assert merged.percentiles([50, 95, 99.9]) == whole.percentiles([50, 95, 99.9])


def test_copy_is_independent_and_reset_empties() -> None:
    h = Histogram()
    h.record(5.0)
    clone = h.copy()
    assert clone == h
    h.record(7.0)
    assert clone != h
    h.reset()
    assert h == Histogram()
    assert h.nonzero_buckets() == []
    h.record(2.0)
    assert h.count == 1 and h.min == 2.0 and h.max == 2.0, "usable after a reset"


def test_percentile_spectrum_ends_at_the_max() -> None:
    h = Histogram()
    for v in range(1, 1001):
        h.record(float(v))
    spectrum = h.percentile_spectrum()
    assert spectrum[0].percentile == 0
    assert spectrum[-1].percentile == 100
    assert spectrum[-1].value == 1000.0
    assert spectrum[-1].count == 1000
    assert [p.value for p in spectrum] == sorted(p.value for p in spectrum)


def test_percentile_floor_is_the_bottom_of_the_percentile_bucket() -> None:
    h = Histogram()
    for v in range(1, 201):
        h.record(float(v))
    assert h.percentile(95) > 190.0, "HDR reports the bucket's top"
    assert 190.0 * 0.999 <= h.percentile_floor(95) <= 190.0, "the bucket's bottom: at or below the p95 sample"
    assert h.percentile_floor(95) > 189.0, "and above the sample before it"
    assert h.percentile_floor(0) == 1.0
    assert h.percentile_floor(100) <= 200.0
    assert Histogram().percentile_floor(95) == 0.0


def test_a_decoded_histogram_keeps_recording_and_re_encodes_identically() -> None:
    original = Histogram()
    for v in (1.0, 2.5, 300.0, 4e6):
        original.record(v)
    decoded = Histogram.decode(original.to_struct())
    decoded.record(7.0)
    original.record(7.0)
    assert decoded == original
    assert decoded.encode() == original.encode()
    assert Histogram.decode(decoded.to_struct()) == original


def test_a_dropped_histogram_frees_its_counts_without_waiting_for_the_cyclic_gc() -> None:
    import gc
    import weakref

    source = Histogram()
    source.record(3.0)
    gc.disable()
    try:
        makers: list[Callable[[], Histogram]] = [Histogram, lambda: Histogram.decode(source.to_struct())]
        for make in makers:
            h = make()
            inner = weakref.ref(h._h)
            del h
            assert inner() is None, "hdrh's histogram <-> encoder cycle is broken on drop"
    finally:
        gc.enable()


# -- sparse interval histograms ---------------------------------------------------------------------------------------


def mixed_samples(rng: random.Random, n: int) -> list[float]:
    """Spread over the whole range: sub-millisecond, lognormal, and beyond the clamp."""
    pick = (lambda: rng.uniform(0, 2), lambda: rng.lognormvariate(3, 1.5), lambda: rng.uniform(0, 5e6))
    return [rng.choice(pick)() for _ in range(n)]


def recorded(samples: list[float]) -> Histogram:
    h = Histogram()
    for v in samples:
        h.record(v)
    return h


def test_sparse_form_round_trips_through_msgpack_and_json_losslessly() -> None:
    h = recorded(mixed_samples(random.Random(4), 3000))
    assert h.clamped > 0
    sparse = h.to_sparse()
    assert list(sparse.buckets.items()) == h.nonzero_buckets()
    for codec in (msgspec.msgpack, msgspec.json):
        again = codec.decode(codec.encode(sparse), type=SparseHistogram)
        assert again == sparse
        assert Histogram.from_sparse(again) == h
        assert Histogram.from_sparse(again).encode() == h.encode(), "the same standard encoding as the original"


@pytest.mark.parametrize(
    ("buckets", "message"),
    [({"-1": 1}, ">= 0"), ({str(COUNTS_LEN): 1}, "<= 23551"), ({"5": 0}, ">= 1"), ({"x": 1}, "int")],
)
def test_decoding_rejects_buckets_outside_the_counts_array(buckets: dict[str, int], message: str) -> None:
    blob = msgspec.json.encode({"buckets": buckets, "count": 1, "sum": 0.005, "min": 0.005, "max": 0.005})
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.json.decode(blob, type=SparseHistogram)


def test_a_sparse_histogram_whose_buckets_disagree_with_its_count_or_the_array_is_refused() -> None:
    lying = SparseHistogram({bucket_index(1.0): 2}, 3, 3.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="hold 2 samples"):
        Histogram().add_sparse(lying)
    with pytest.raises(ValueError, match="hold 2 samples"):
        RankedBuckets(lying)
    for index in (-1, COUNTS_LEN):  # built in-process, so never validated by a decoder
        outside = SparseHistogram({bucket_index(1.0): 1, index: 1}, 2, 2.0, 1.0, 1.0)
        h = Histogram()
        with pytest.raises(ValueError, match=r"within 0\.\.23551"):
            h.add_sparse(outside)
        with pytest.raises(ValueError, match=r"within 0\.\.23551"):
            RankedBuckets(outside)
        assert h == Histogram(), "nothing was added"


def test_adding_sparse_parts_equals_one_histogram_of_all_samples() -> None:
    rng = random.Random(12)
    samples = mixed_samples(rng, 6000)
    whole = recorded(samples)
    parts: list[list[float]] = [[], [], []]
    for v in samples:
        parts[rng.randrange(3)].append(v)
    sparse = [recorded(part).to_sparse() for part in parts]
    for merged in (Histogram(), Histogram()):
        for i, part in enumerate(reversed(sparse)):  # either form, in another order than the samples came
            merged.add_sparse(part if i % 2 else RankedBuckets(part))
        assert merged.nonzero_buckets() == whole.nonzero_buckets()
        assert (merged.count, merged.sum, merged.min, merged.max, merged.clamped) == (
            whole.count,
            whole.sum,
            whole.min,
            whole.max,
            whole.clamped,
        )
        assert merged == whole
        assert merged.encode() == whole.encode()
    empty = Histogram()
    empty.add_sparse(Histogram().to_sparse())
    empty.add_sparse(RankedBuckets(Histogram().to_sparse()))
    assert empty == Histogram()


PS = (0.0, 0.1, 1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0)


@pytest.mark.parametrize("seed", range(6))
def test_ranked_percentiles_are_exactly_the_histogram_s(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 10, 500, 4000])
    samples = mixed_samples(rng, n) if seed % 2 else [rng.lognormvariate(2, 0.3) for _ in range(n)]
    h = recorded(samples)
    ranked = RankedBuckets(h.to_sparse())
    assert ranked.percentiles(PS) == h.percentiles(PS)
    assert (ranked.count, ranked.min, ranked.max, ranked.clamped) == (h.count, h.min, h.max, h.clamped)
    assert ranked.mean == pytest.approx(h.mean, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_merged_percentiles_are_exactly_those_of_one_histogram_of_all_parts(seed: int) -> None:
    rng = random.Random(100 + seed)
    parts = []
    for _ in range(rng.choice([2, 3, 7, 40])):
        scale = rng.uniform(0.5, 4)  # parts with different distributions, as different tools
        size = rng.choice([1, 2, 50, 300])
        parts.append(
            [rng.lognormvariate(scale, 1) if rng.random() > 0.01 else rng.uniform(0, 5e6) for _ in range(size)]
        )
    whole = recorded([v for part in parts for v in part])
    ranked = [RankedBuckets(recorded(part).to_sparse()) for part in parts]
    ranked.append(RankedBuckets(Histogram().to_sparse()))  # an empty part changes nothing
    assert merged_percentiles(ranked, PS) == whole.percentiles(PS)


def test_merged_percentiles_of_identical_or_lopsided_parts() -> None:
    rng = random.Random(8)
    part = [rng.lognormvariate(3, 1) for _ in range(400)]
    same = RankedBuckets(recorded(part).to_sparse())
    assert merged_percentiles([same, same, same], PS) == recorded(part * 3).percentiles(PS), "bounds meet"
    tiny = [1000.0, 0.25]
    lopsided = [same, RankedBuckets(recorded(tiny).to_sparse())]
    assert merged_percentiles(lopsided, PS) == recorded(part + tiny).percentiles(PS)


def test_empty_sparse_percentiles_read_as_zeros_and_bad_percentiles_raise() -> None:
    empty = RankedBuckets(Histogram().to_sparse())
    assert empty.percentiles([50, 99]) == [0.0, 0.0]
    assert merged_percentiles([empty, empty], [50]) == [0.0]
    one = RankedBuckets(recorded([1.0, 2.0]).to_sparse())
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        one.percentiles([101])
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        merged_percentiles([one, one], [-1])
