"""Notebook 11's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "11_convolution.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers

IM2COL_END = """
n_images, channels, out_h, out_w = view.shape[:4]
return view.transpose({axes}).reshape(n_images * out_h * out_w, channels * kh * kw)
"""
IM2COL_VIEW = "view = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]\n"


def im2col(view=IM2COL_VIEW, axes="0, 2, 3, 1, 4, 5"):
    return (view + IM2COL_END.format(axes=axes),)


def col2im(update):
    return (f"""
out_h, out_w = dcols.shape[1:3]
dx = np.zeros(x_shape)
for i in range(out_h):
    for j in range(out_w):
        {update}
return dx
""",)


def conv_backward(g="upstream.transpose(0, 2, 3, 1).reshape(-1, n_filters)",
                  grad_w="(g.T @ self.cols).reshape(w.shape)", grad_b="g.sum(axis=0)",
                  dcols="g @ w.reshape(n_filters, -1)",
                  crop="dx[:, :, p:dx.shape[2] - p, p:dx.shape[3] - p]"):
    return (f"""
x, weight, bias = self.inputs
w = weight.value
n_filters, channels, kh, kw = w.shape
upstream = self.upstream_gradient()
n_images, _, out_h, out_w = upstream.shape
g = {g}
if weight.needs_gradient:
    self.send_gradient(weight, {grad_w})
if bias.needs_gradient:
    self.send_gradient(bias, {grad_b})
if x.needs_gradient:
    dcols = {dcols}
    windows = dcols.reshape(n_images, out_h, out_w, channels, kh, kw)
    dx = col2im(windows, self.padded_shape, kh, kw, self.stride)
    p = self.padding
    self.send_gradient(x, {crop})
""",)


def pool_backward(scatter="np.add.at(dx, (n, c, i * s + di, j * s + dj), g)",
                  where="di, dj = np.divmod(self.argmax, k)"):
    return (f"""
x = self.inputs[0]
k, s = self.kernel_size, self.stride
g = self.upstream_gradient()
n, c, i, j = np.indices(self.argmax.shape)
{where}
dx = np.zeros(x.value.shape)
{scatter}
self.send_gradient(x, dx)
""",)


POOL_BY_WINDOWS = """
x = self.inputs[0]
k, s = self.kernel_size, self.stride
g = self.upstream_gradient()
dx = np.zeros(x.value.shape)
windows = sliding_window_view(x.value, (k, k), axis=(2, 3))[:, :, ::s, ::s]
for i in range(g.shape[2]):
    for j in range(g.shape[3]):
        {share}
        dx[:, :, i * s:i * s + k, j * s:j * s + k] += share * g[:, :, i, j, None, None]
self.send_gradient(x, dx)
"""


def loops(rows):
    return (f"""
height, width = image.shape
rows = [{rows}]
return np.array(rows)
""",)


WRONG = [
    # 11.1 im2col
    WrongAnswer("11.1", "the stride forgotten",
                im2col(view="view = sliding_window_view(x, (kh, kw), axis=(2, 3))\n"),
                "keeps only every s-th window", must_not_say=NO_ARRAYS),
    WrongAnswer("11.1", "a stride off by one",
                im2col(view="view = sliding_window_view(x, (kh, kw), axis=(2, 3))"
                            "[:, :, ::stride + 1, ::stride + 1]\n"),
                "one row per output pixel", must_not_say=NO_ARRAYS),
    WrongAnswer("11.1", "no transpose before the reshape", im2col(axes="0, 1, 2, 3, 4, 5"),
                "where is the channel axis", must_not_say=NO_ARRAYS),
    WrongAnswer("11.1", "the channel axis moved last", im2col(axes="0, 2, 3, 4, 5, 1"),
                "in another order", must_not_say=NO_ARRAYS),
    WrongAnswer("11.1", "the output rows and columns swapped", im2col(axes="0, 3, 2, 1, 4, 5"),
                "the right windows in the wrong order", must_not_say=NO_ARRAYS),
    # 11.2 col2im
    WrongAnswer("11.2", "assigning instead of adding",
                col2im("dx[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = "
                       "dcols[:, i, j]"),
                "add them, do not assign", must_not_say=NO_ARRAYS),
    WrongAnswer("11.2", "the stride forgotten",
                col2im("dx[:, :, i:i + kh, j:j + kw] += dcols[:, i, j]"),
                "starts at row i·stride", must_not_say=NO_ARRAYS),
    WrongAnswer("11.2", "a window one pixel too large",
                col2im("dx[:, :, i * stride:i * stride + kh + 1, j * stride:j * stride + kw + 1]"
                       " += dcols[:, i, j]"),
                "span exactly kh rows", must_not_say=NO_ARRAYS),
    WrongAnswer("11.2", "the window's rows and columns swapped",
                col2im("dx[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += "
                       "dcols[:, i, j].swapaxes(2, 3) if kh == kw else dcols[:, i, j]"),
                "belongs on the pixels under window (i, j)", must_not_say=NO_ARRAYS),
    # 11.3 the convolution's backward pass
    WrongAnswer("11.3", "the padding not removed", conv_backward(crop="dx"),
                "the padding is still on", must_not_say=NO_ARRAYS),
    WrongAnswer("11.3", "the padding removed from one side only",
                conv_backward(crop="dx[:, :, :dx.shape[2] - 2 * p, :dx.shape[3] - 2 * p]"),
                "but not the middle one", must_not_say=NO_ARRAYS),
    WrongAnswer("11.3", "a transposed weight reshape for ∂L/∂x",
                conv_backward(dcols="g @ w.reshape(-1, n_filters).T"),
                "(F, C·kh·kw) matrix of the forward pass", must_not_say=NO_ARRAYS),
    WrongAnswer("11.3", "cols Gᵀ reshaped for ∂L/∂W",
                conv_backward(grad_w="(self.cols.T @ g).reshape(w.shape)"),
                "a reshape never transposes", must_not_say=NO_ARRAYS),
    WrongAnswer("11.3", "a mean for a sum in ∂L/∂b", conv_backward(grad_b="g.mean(axis=0)"),
                "a mean over the output pixels", must_not_say=NO_ARRAYS),
    WrongAnswer("11.3", "G flattened without moving the filter axis",
                conv_backward(g="upstream.reshape(-1, n_filters)"),
                "look at G first", must_not_say=NO_ARRAYS),
    # 11.4 max pooling's backward pass
    WrongAnswer("11.4", "the gradient spread over the whole window",
                (POOL_BY_WINDOWS.format(share="share = np.ones((k, k))"),),
                "more pixels than the windows' maxima", must_not_say=NO_ARRAYS),
    WrongAnswer("11.4", "every maximum of a tie gets the gradient",
                (POOL_BY_WINDOWS.format(
                    share="share = windows[:, :, i, j] == self.value[:, :, i, j, None, None]"),),
                "on a tie", must_not_say=NO_ARRAYS),
    WrongAnswer("11.4", "the kernel size for the stride",
                pool_backward(scatter="np.add.at(dx, (n, c, i * k + di, j * k + dj), g)"),
                "with s the stride", must_not_say=NO_ARRAYS),
    WrongAnswer("11.4", "a stride off by one",
                pool_backward(scatter="np.add.at(dx, (n, c, i * (s - 1) + di, j * (s - 1) + dj),"
                                      " g)"),
                "the wrong pixels", must_not_say=NO_ARRAYS),
    WrongAnswer("11.4", "assigning where windows overlap",
                pool_backward(scatter="dx[n, c, i * s + di, j * s + dj] = g"),
                "add them rather than assign", must_not_say=NO_ARRAYS),
    WrongAnswer("11.4", "the window's row and column swapped",
                pool_backward(where="dj, di = np.divmod(self.argmax, k)"),
                "the wrong pixels", must_not_say=NO_ARRAYS),
    # 11.5 im2col with loops
    WrongAnswer("11.5", "an off-by-one in the number of windows",
                loops("image[i:i + k, j:j + k].ravel() for i in range(height - k) "
                      "for j in range(width - k)"),
                "how many fit down", must_not_say=NO_ARRAYS),
    WrongAnswer("11.5", "each window read column by column",
                loops("image[i:i + k, j:j + k].T.ravel() for i in range(height - k + 1) "
                      "for j in range(width - k + 1)"),
                "read the window row by row", must_not_say=NO_ARRAYS),
    WrongAnswer("11.5", "the windows column by column",
                loops("image[i:i + k, j:j + k].ravel() for j in range(width - k + 1) "
                      "for i in range(height - k + 1)"),
                "wrong order", must_not_say=NO_ARRAYS),
    # 11.6 an output shape by hand
    WrongAnswer("11.6", "one channel per input channel", ("output_shape = (10, 3, 13, 13)",),
                "one channel per filter", must_not_say=("(10, 16, 13, 13)", "13, 13")),
    WrongAnswer("11.6", "the padding forgotten and the first window not counted",
                ("output_shape = (10, 16, 12, 12)",),
                "count the padding on both sides", must_not_say=("(10, 16, 13, 13)", "13, 13")),
    WrongAnswer("11.6", "three numbers", ("output_shape = (16, 13, 13)",),
                "(N, C, H, W)", must_not_say=("(10, 16, 13, 13)",)),
    # 11.7 a 2×2 max pool by a reshape
    WrongAnswer("11.7", "the axes split in the wrong order",
                ("n, c, height, width = x.shape\n"
                 "return x.reshape(n, c, 2, height // 2, 2, width // 2).max(axis=(2, 4))",),
                "which of the split axes is the window", must_not_say=NO_ARRAYS),
    WrongAnswer("11.7", "the maximum over the window axes, not inside them",
                ("n, c, height, width = x.shape\n"
                 "return x.reshape(n, c, height // 2, 2, width // 2, 2).max(axis=(2, 4))",),
                "halving both the height and the width", must_not_say=NO_ARRAYS),
    WrongAnswer("11.7", "only the rows pooled",
                ("n, c, height, width = x.shape\n"
                 "return x.reshape(n, c, height // 2, 2, width).max(axis=3)",),
                "halving both the height and the width", must_not_say=NO_ARRAYS),
    # 11.8 trainable numbers by hand
    WrongAnswer("11.8", "the biases forgotten",
                ("wide_parameters = 16 * 1 * 25 + 32 * 16 * 9 + 32 * 4 * 4 * 10",),
                "did you count the biases", must_not_say=("10186",)),
    WrongAnswer("11.8", "conv2's filters over one channel",
                ("wide_parameters = (16 * 25 + 16) + (32 * 9 + 32) + (32 * 4 * 4 * 10 + 10)",),
                "every channel that conv1 makes", must_not_say=("10186",)),
    WrongAnswer("11.8", "the pool forgotten before the last layer",
                ("wide_parameters = (16 * 25 + 16) + (32 * 16 * 9 + 32) + (32 * 8 * 8 * 10 + 10)",),
                "too many numbers", must_not_say=("10186",)),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_a_wrong_answer(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
