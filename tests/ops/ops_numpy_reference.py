"""Plain numpy versions of the operators, written without tensorlang, for the ops tests."""
import numpy as np


def conv2d_nchw(x, w, stride, padding, dilation, groups_multiplier=None):
    """Direct convolution by summing one shifted, strided window per kernel tap.

    ``padding`` is (top, left, bottom, right).  With ``groups_multiplier`` set, ``w`` is a
    depthwise kernel (channel, multiplier, kh, kw)."""
    (sh, sw), (dh, dw) = stride, dilation
    top, left, bottom, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = xp.shape
    kh, kw = w.shape[2:]
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    out = None
    for ry in range(kh):
        for rx in range(kw):
            patch = xp[:, :, ry * dh: ry * dh + sh * (oh - 1) + 1: sh,
                       rx * dw: rx * dw + sw * (ow - 1) + 1: sw]
            if groups_multiplier is None:
                term = np.einsum("nchw,kc->nkhw", patch, w[:, :, ry, rx])
            else:
                m = groups_multiplier
                term = np.repeat(patch, m, axis=1) * w[:, :, ry, rx].reshape(1, c * m, 1, 1)
            out = term if out is None else out + term
    return out


def pool2d_nchw(x, kernel, stride, padding, pool_type, count_include_pad, dilation=(1, 1)):
    """Pooling by explicit loops over the output points, in float64."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, left, bottom, right = padding
    n, c, h, w = x.shape
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for z in range(ow):
            y0, z0 = y * sh - top, z * sw - left
            ys = [y0 + t * dh for t in range(kh) if 0 <= y0 + t * dh < h]
            zs = [z0 + t * dw for t in range(kw) if 0 <= z0 + t * dw < w]
            window = x[:, :, ys][:, :, :, zs].astype(np.float64)
            if pool_type == "max":
                has_pad = len(ys) < kh or len(zs) < kw
                value = window.max(axis=(2, 3)) if window.size else -np.inf
                out[:, :, y, z] = np.maximum(value, -np.inf) if has_pad else value
            else:
                count = kh * kw if count_include_pad else max(len(ys) * len(zs), 1)
                out[:, :, y, z] = window.sum(axis=(2, 3)) / count
    return out


def softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, gamma, beta, axes, epsilon):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + epsilon)
    shape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    if gamma is not None:
        out = out * gamma.astype(np.float64).reshape(shape)
    if beta is not None:
        out = out + beta.astype(np.float64).reshape(shape)
    return out
