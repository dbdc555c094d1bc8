"""Float tolerances derived from the arithmetic, and the comparison of two goldens as numbers.

Every golden carries a "tolerance" record, written by tools/make_goldens.py from `derive()` below.
The same record is what the C++ and node tests read when they compare the engine with a golden,
so the one derivation here serves every cross-machine and cross-library comparison.

The derivation (float32 throughout; u = 2^-24, the unit roundoff):
- Two correct float32 implementations of the same network differ only in the order of their sums
  (a GEMM's blocking, a vector width). A sum of K products rounded in some order has an error that
  behaves like a random walk of K roundings, each at most u of the running sum: standard deviation
  about u*sqrt(K) of the sum's scale. Along the network a value depends on a chain of such sums; per
  block: the two LayerNorms' sums (2d), c_attn (d), q.k (d_head), the softmax's sum and pattern.v
  (2T), c_proj (d), c_fc (d) and the MLP's c_proj (4d); then ln_f (d) and the unembedding (d). The
  chain's N roundings give u*sqrt(N); we allow Z = 6 standard deviations (a test compares ~1e4-1e5
  values; a 6-sigma Gaussian tail is ~2e-9 per value).
- The softmax turns a relative error e in its scores (largest magnitude S) into an absolute error of
  about 2*S*e*p in each probability p, so everything downstream of attention carries a factor
  A = 1 + 2*S. S is the run's largest finite pre-softmax score (`score_scale`).
  => activation_rel = Z * u * sqrt(N) * A: relative to the scale a value is read against.
- A logit is an activation of scale L (the run's largest |logit|, `logit_scale`): absolute error
  logit_abs = activation_rel * L. A probability p = exp(z - lse) moves by a factor exp(dz + dlse), so
  its error relative to itself is 2 * logit_abs. A logit difference (answer - wrong) errs by at most
  2 * logit_abs.
- Patching's normalized value n = (LD_patched - LD_corrupted) / D with D = LD_clean - LD_corrupted:
  its numerator and denominator each err by up to 4 * logit_abs, so n errs by up to
  4 * logit_abs * (1 + |n|) / |D|: the error grows as the denominator shrinks.
- Direct logit attribution's components are pieces of the logit difference: 2 * logit_abs each.
- Head scores average attention probabilities (scale 1): activation_rel, absolute.
- A gradient dLD/d(activation) (the gradients goldens) is a sum over the paths from the activation to
  the logit difference of products of the forward's local derivatives. It carries the forward's
  roundings (through the activations those derivatives are read at: LayerNorm's statistics, the
  softmax's probabilities, GELU's input, q, k, v) and those of the backward's own sums: per block the
  transposed GEMMs (MLP c_proj d, c_fc 4d, attention c_proj d, c_attn 3d), two reductions in each
  LayerNorm (4d), dz.v (d_head), and the sums over T of the softmax, dv, and dq / dk (3T); then
  ln_f's two (2d): gradient_roundings = N + n_layer * (13d + d_head + 3T) + 2d, amplified by the
  softmax as the forward is. => gradient_rel = Z * u * sqrt(gradient_roundings) * A, relative to the
  largest |gradient| of that hook (a hook's gradient is read against its own scale, as an
  activation's statistics are).
- Sums of products of values and gradients inherit both errors, each (a bound of Z standard
  deviations) relative to its hook's largest value. Over a sum the errors of its terms add as a
  random walk, so a sum of x_i * g_i errs by up to eps_x * ||g||_2 + eps_g * ||x||_2: absolute bounds
  computed from the values themselves and stored in the record. input_x_gradient[p] =
  sum_d x[p, d] g[p, d] (x = hook_embed + hook_pos_embed, exact to a rounding):
  input_x_gradient_abs = gradient_rel * max|g| * max_p ||x[p]||_2. An attribution-patching estimate
  LD_corrupted + sum over a slice of (clean - corrupted) * g: LD's 2 * logit_abs plus
  activation_rel * (max|clean| + max|corrupted|) * ||g||_2 + gradient_rel * max|g| * ||clean - corrupted||_2
  over the slice, the largest over the slices: estimate_abs. Its normalized value
  n = (E - LD_corrupted) / D errs by (estimate_abs + 2 * logit_abs + 4 * logit_abs * |n|) / |D|.

Integers (ids, counts, shapes), strings, booleans and nulls compare exactly.
"""
import math

U = 2.0 ** -24
Z = 6.0


def roundings(n_layer, n_embd, n_head, n_tokens):
    """N: the float32 roundings along the longest chain of sums that a logit depends on."""
    d, dh, T = n_embd, n_embd // n_head, n_tokens
    per_block = 2 * d + d + dh + 2 * T + d + d + 4 * d
    return n_layer * per_block + 2 * d


def derive(model, n_tokens, score_scale, logit_scale):
    """The tolerance record of a golden (see the module's docstring)."""
    n = roundings(model["n_layer"], model["n_embd"], model["n_head"], n_tokens)
    amp = 1.0 + 2.0 * score_scale
    rel = Z * U * math.sqrt(n) * amp
    return {"activation_rel": rel, "logit_abs": rel * logit_scale, "roundings": n,
            "score_scale": score_scale, "logit_scale": logit_scale, "z": Z}


def backward_roundings(n_layer, n_embd, n_head, n_tokens):
    """The float32 roundings a gradient adds to the forward's N along the backward (see the docstring)."""
    d, dh, T = n_embd, n_embd // n_head, n_tokens
    return n_layer * (13 * d + dh + 3 * T) + 2 * d


def derive_gradient(model, n_tokens, score_scale, logit_scale):
    """The tolerance record of a gradients golden: derive()'s, plus gradient_rel (see the docstring)."""
    rec = derive(model, n_tokens, score_scale, logit_scale)
    n = rec["roundings"] + backward_roundings(model["n_layer"], model["n_embd"], model["n_head"], n_tokens)
    rec["gradient_roundings"] = n
    rec["gradient_rel"] = Z * U * math.sqrt(n) * (1.0 + 2.0 * score_scale)
    return rec


def scales_of(stats):
    """(score_scale, logit_scale) of a run from its statistics record."""
    sc = stats["attn.hook_attn_scores"]
    s = max(max(abs(a), abs(b)) for a, b in zip(sc["min"], sc["max"]))
    lg = stats["logits"]
    return s, max(abs(lg["min"][-1]), abs(lg["max"][-1]))


_STAT_KEYS = ("mean", "std", "min", "max")


def _is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _num_scale(values):
    return max((abs(v) for v in values if _is_num(v)), default=0.0)


class _Leaf:
    """A pair of scalars and the absolute tolerance the quantity allows (None: exact)."""
    __slots__ = ("path", "a", "b", "tol")

    def __init__(self, path, a, b, tol):
        self.path, self.a, self.b, self.tol = path, a, b, tol


def _walk(old, new, path, tol, rule):
    """Walks both trees in step, yielding _Leaf pairs and (path, message) for structure changes.
    `rule(key, value_old, context)` gives a leaf's absolute tolerance."""
    if isinstance(old, dict) and isinstance(new, dict):
        if set(old) != set(new):
            yield (path, "keys %s vs %s" % (sorted(old), sorted(new)))
            return
        t = old.get("tolerance", tol) if isinstance(old.get("tolerance"), dict) else tol
        is_stats = all(isinstance(old.get(k), list) for k in _STAT_KEYS)
        row = [_num_scale(v) for v in zip(*[old[k] for k in _STAT_KEYS])] if is_stats else None
        for k in old:
            p = "%s.%s" % (path, k)
            if k == "tolerance":
                continue  # derived from the values themselves: compared through them
            if is_stats and isinstance(old[k], list) and isinstance(new[k], list):
                if len(old[k]) != len(new[k]):
                    yield (p, "a different length")
                    continue
                for i, (a, b) in enumerate(zip(old[k], new[k])):
                    scale = row[i] if k in _STAT_KEYS else max(abs(a), abs(b)) if _is_num(a) and _is_num(b) else 0
                    yield _Leaf("%s[%d]" % (p, i), a, b, None if t is None else t["activation_rel"] * scale)
                continue
            yield from _walk(old[k], new[k], p, t, lambda a, b, k=k, ctx=old: _rule(k, a, b, ctx, t))
        return
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            yield (path, "length %d vs %d" % (len(old), len(new)))
            return
        flat = [x for x in old if _is_num(x)]
        list_scale = _num_scale(flat) if len(flat) == len(old) else None
        for i, (a, b) in enumerate(zip(old, new)):
            if list_scale is not None:
                r = rule(a, b)
                yield _Leaf("%s[%d]" % (path, i), a, b, r if not callable(r) else r(list_scale))
            else:
                yield from _walk(a, b, "%s[%d]" % (path, i), tol, rule)
        return
    r = rule(old, new) if tol is not None else None
    yield _Leaf(path, old, new, r(max(abs(old), abs(new)) if _is_num(old) and _is_num(new) else 0) if callable(r) else r)


def _rule(key, a, b, ctx, t):
    """The absolute tolerance of a value under `key`, or a function of the list's scale."""
    if t is None:
        return None
    la, rel = t["logit_abs"], t["activation_rel"]
    if key == "gradient":  # a hook's gradient (gradients goldens): relative to its largest value
        return lambda s: t["gradient_rel"] * s
    if key == "input_x_gradient":
        return t["input_x_gradient_abs"]
    if key == "logit_diff" and "estimate_abs" in t:  # attribution patching's estimates
        return t["estimate_abs"]
    if key == "normalized" and "estimate_abs" in t:
        D = abs(ctx["clean_logit_diff"] - ctx["corrupted_logit_diff"])
        return lambda s: ((t["estimate_abs"] + 2 * la + 4 * la * max(abs(a), abs(b))) / max(D, 1e-300)
                          if _is_num(a) else 0)
    if key == "prob":
        return lambda s: 2 * la * max(abs(a), abs(b)) if _is_num(a) and _is_num(b) else 0
    if key in ("logit", "logits_last"):
        return la
    if key in ("logit_diff", "clean_logit_diff", "corrupted_logit_diff", "value"):
        return 2 * la
    if key == "normalized":
        D = abs(ctx["clean_logit_diff"] - ctx["corrupted_logit_diff"])
        return lambda s: 4 * la * (1 + max(abs(a), abs(b))) / max(D, 1e-300) if _is_num(a) else 0
    if key in ("induction", "previous_token", "first_token"):
        return rel
    return lambda s: rel * s  # a curve, a list of activations: relative to the list's largest value


def _leaves(old, new):
    tol = old.get("tolerance") if isinstance(old, dict) and isinstance(old.get("tolerance"), dict) else None
    for item in _walk(old, new, "$", tol, lambda a, b: (lambda s: tol["activation_rel"] * s) if tol else None):
        yield item


def _deviation(leaf):
    """|a-b| as a fraction of the tolerance; None where the values must be equal and are not."""
    a, b, tol = leaf.a, leaf.b, leaf.tol
    if a == b and type(a) is type(b):
        return 0.0
    if not (_is_num(a) and _is_num(b)) or (isinstance(a, int) and isinstance(b, int)) or tol is None:
        return None
    if isinstance(a, float) and isinstance(b, float) and (math.isnan(a) or math.isnan(b)):
        return None
    return abs(a - b) / tol if tol > 0 else math.inf


def differences(old, new, limit=5):
    """The first `limit` differences beyond tolerance between two parsed goldens, as readable lines."""
    out = []
    for item in _leaves(old, new):
        if isinstance(item, tuple):
            out.append("%s: %s" % item)
        else:
            d = _deviation(item)
            if d is None:
                out.append("%s: %r vs %r" % (item.path, item.a, item.b))
            elif d > 1:
                out.append("%s: %r vs %r (%.2g times its tolerance %.2g)" % (item.path, item.a, item.b, d, item.tol))
        if len(out) >= limit:
            break
    return out


def max_deviation(old, new):
    """(largest deviation of a float as a fraction of its tolerance, its path)."""
    worst = (0.0, "$")
    for item in _leaves(old, new):
        if not isinstance(item, tuple):
            d = _deviation(item)
            if d is not None and d > worst[0]:
                worst = (d, item.path)
    return worst
