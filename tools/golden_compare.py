"""Compare a regenerated golden with the committed one, as numbers.

PyTorch's float32 results depend on the CPU's vector path (AVX-512 vs AVX2 change the
summation order inside its GEMMs), so the same script gives goldens that differ in the
last bits from one machine to the next. Text comparison calls those stale; this module
compares structure, strings and integers exactly and floats within RTOL of each value's
scale, so a golden from another CPU passes and a golden that is really stale (a changed
reference, prompt or checkpoint) still fails.

A float's scale is the largest magnitude among the numbers it is naturally read against:
- in a list of floats (a per-layer curve, the logits), the largest |x| of the list;
- in a statistics record {"mean", "std", "min", "max", ...}, at each layer, the largest of
  |mean|, |std|, |min|, |max| at that layer (a mean close to 0 is a difference of large
  terms, so its error is relative to the activations' size, not to itself);
- in a list of records (the top-k), per field, the largest |x| of that field.
"""

RTOL = 2e-6
_STAT_KEYS = ("mean", "std", "min", "max")


def _is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _num_scale(values):
    return max((abs(v) for v in values if _is_num(v)), default=0.0)


def _pairs(old, new, path, scale):
    """Walks both trees in step. Yields ("leaf", path, a, b, scale) for every pair of
    scalars and ("shape", path, message) where the structure differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        if set(old) != set(new):
            yield ("shape", path, "keys %s vs %s" % (sorted(old), sorted(new)))
            return
        per_index = None
        if all(isinstance(old.get(k), list) for k in _STAT_KEYS):
            per_index = [_num_scale(vals) for vals in zip(*[old[k] for k in _STAT_KEYS])]
        for k in old:
            if per_index is not None and k in _STAT_KEYS:
                if not isinstance(new[k], list) or len(new[k]) != len(old[k]):
                    yield ("shape", "%s.%s" % (path, k), "a different length")
                    continue
                for i, (a, b) in enumerate(zip(old[k], new[k])):
                    yield from _pairs(a, b, "%s.%s[%d]" % (path, k, i), per_index[i] if i < len(per_index) else 0.0)
            else:
                yield from _pairs(old[k], new[k], "%s.%s" % (path, k), 0.0)
        return
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            yield ("shape", path, "length %d vs %d" % (len(old), len(new)))
            return
        if old and all(isinstance(x, dict) for x in old + new):
            col_scale = {k: _num_scale(x.get(k) for x in old) for x in old for k in x}
            for i, (a, b) in enumerate(zip(old, new)):
                if set(a) != set(b):
                    yield ("shape", "%s[%d]" % (path, i), "keys %s vs %s" % (sorted(a), sorted(b)))
                    continue
                for k in a:
                    yield from _pairs(a[k], b[k], "%s[%d].%s" % (path, i, k), col_scale[k])
            return
        s = max(scale, _num_scale(old))
        for i, (a, b) in enumerate(zip(old, new)):
            yield from _pairs(a, b, "%s[%d]" % (path, i), s)
        return
    yield ("leaf", path, old, new, scale)


def _deviation(a, b, scale):
    """|a-b| relative to the value's scale; None where the values must be equal exactly
    (strings, booleans, nulls, integers: ids, counts, shapes) and are not."""
    if a == b and type(a) is type(b):
        return 0.0
    if not (_is_num(a) and _is_num(b)) or (isinstance(a, int) and isinstance(b, int)):
        return None
    return abs(a - b) / max(abs(a), abs(b), scale, 1e-300)


def differences(old, new, rtol=RTOL, limit=5):
    """The first `limit` differences between two parsed goldens, as readable lines."""
    out = []
    for item in _pairs(old, new, "$", 0.0):
        if item[0] == "shape":
            out.append("%s: %s" % (item[1], item[2]))
        else:
            _, path, a, b, scale = item
            d = _deviation(a, b, scale)
            if d is None:
                out.append("%s: %r vs %r" % (path, a, b))
            elif d > rtol:
                out.append("%s: %r vs %r (%.2g of its scale; tolerance %.1g)" % (path, a, b, d, rtol))
        if len(out) >= limit:
            break
    return out


def max_deviation(old, new):
    """(largest relative deviation of a float, its path): how close two machines' goldens are."""
    worst = (0.0, "$")
    for item in _pairs(old, new, "$", 0.0):
        if item[0] == "leaf":
            d = _deviation(*item[2:])
            if d is not None and d > worst[0]:
                worst = (d, item[1])
    return worst
