"""Notebook 14's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "14_recurrent_networks.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers


def rnn(body):
    return (f"return {body}",)


RIGHT_SUM = "x_t @ layer.weight_ih.T + layer.bias_ih + h @ layer.weight_hh.T + layer.bias_hh"

NODE_WITHOUT_BACKWARD = """
class Step(fw.Node):
    def forward(self):
        x, h_value, w_ih, w_hh, b_ih, b_hh = (node.value for node in self.inputs)
        self.value = np.tanh(x @ w_ih.T + b_ih + h_value @ w_hh.T + b_hh)

    def backward(self):
        for node in self.inputs:
            self.send_gradient(node, np.zeros_like(node.value))

return Step([x_t, h, layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh])
"""


def unroll(steps="range(steps)", read="x[:, t]", keep="state = cell({read}, state, layer)",
           output="hidden(state)", axis=1, last="state"):
    return (f"""
outputs, first = [], state
for t in {steps}:
    {keep.format(read=read)}
    outputs.append({output})
return fw.stack(outputs, axis={axis}), {last}
""",)


def lstm(order=("i", "f", "g", "o"), input_gate="fw.Sigmoid", candidate="fw.Tanh",
         cell="f * c + i * g", hidden="o * fw.Tanh(c_t)", result="h_t, c_t"):
    blocks = ["a[:, :H]", "a[:, H:2 * H]", "a[:, 2 * H:3 * H]", "a[:, 3 * H:]"]
    where = dict(zip(order, blocks, strict=True))
    return (f"""
a = x_t @ layer.weight_ih.T + layer.bias_ih + h @ layer.weight_hh.T + layer.bias_hh
i = {input_gate}({where["i"]})
f = fw.Sigmoid({where["f"]})
g = {candidate}({where["g"]})
o = fw.Sigmoid({where["o"]})
c_t = {cell}
h_t = {hidden}
return {result}
""",)


def gru(order=("r", "z", "n"), n="fw.Tanh(a_x[:, 2 * H:] + r * a_h[:, 2 * H:])",
        new="(1 - z) * n + z * h"):
    blocks = [":H", "H:2 * H", "2 * H:"]
    where = dict(zip(order, blocks, strict=True))
    return (f"""
a_x = x_t @ layer.weight_ih.T + layer.bias_ih
h_w = h @ layer.weight_hh.T
a_h = h_w + layer.bias_hh
r = fw.Sigmoid(a_x[:, {where["r"]}] + a_h[:, {where["r"]}])
z = fw.Sigmoid(a_x[:, {where["z"]}] + a_h[:, {where["z"]}])
n = {n.replace("2 * H:", where["n"])}
return {new}
""",)


WRONG = [
    # 14.1 the RNN cell
    WrongAnswer("14.1", "the hidden term forgotten",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + layer.bias_ih + layer.bias_hh)"),
                "h_t does not depend on h", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "the hidden term and its bias forgotten",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + layer.bias_ih)"),
                "h_t does not depend on h", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "a sigmoid for the tanh", rnn(f"fw.Sigmoid({RIGHT_SUM})"),
                "went through a sigmoid", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "no tanh at all", rnn(RIGHT_SUM), "not squashed",
                must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "bias_hh missing",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + layer.bias_ih + h @ layer.weight_hh.T)"),
                "a bias is missing", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "bias_ih missing",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + h @ layer.weight_hh.T + layer.bias_hh)"),
                "a bias is missing", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "both biases missing",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + h @ layer.weight_hh.T)"),
                "both biases are missing", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "W_hh not transposed",
                rnn("fw.Tanh(x_t @ layer.weight_ih.T + layer.bias_ih + h @ layer.weight_hh "
                    "+ layer.bias_hh)"),
                "untransposed", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "W_ih not transposed",
                rnn("fw.Tanh(x_t @ layer.weight_ih + layer.bias_ih + h @ layer.weight_hh.T "
                    "+ layer.bias_hh)"),
                "The weights are stored (out, in)", must_not_say=NO_ARRAYS),
    WrongAnswer("14.1", "a node of one's own with a wrong backward", (NODE_WITHOUT_BACKWARD,),
                "the gradients of", must_not_say=NO_ARRAYS),
    # 14.2 the unrolling loop
    WrongAnswer("14.2", "the state not handed on",
                unroll(keep="new = cell({read}, state, layer)", output="hidden(new)", last="new"),
                "every step started from the initial state", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "one step too few", unroll(steps="range(steps - 1)"),
                "one output per step of x", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "starting from step 1", unroll(steps="range(1, steps)"),
                "one output per step of x", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "one step too many", unroll(steps="range(steps + 1)"),
                "Step t reads x[:, t], for t from 0 to steps - 1", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "step 0's input reused", unroll(read="x[:, 0]"),
                "every step read the first step of x", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "the steps read backwards", unroll(read="x[:, steps - 1 - t]"),
                "backwards", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "stacked along the batch axis", unroll(axis=0), "batch first",
                must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "the initial state returned", unroll(last="first"),
                "the one unroll started from", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "the whole LSTM state output", unroll(output="state"),
                "For an LSTM the state is a pair (h, c)", must_not_say=NO_ARRAYS),
    WrongAnswer("14.2", "only the LSTM's h handed on",
                unroll(keep="state = cell({read}, state, layer)\n"
                            "    state = hidden(state) if t == steps - 1 else state"),
                "the state returned should be the pair (h, c)", must_not_say=NO_ARRAYS),
    # 14.3 the LSTM cell
    WrongAnswer("14.3", "gates in the order input, forget, output, cell",
                lstm(order=("i", "f", "o", "g")), "the wrong blocks of A",
                must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "gates in the order forget, input, cell, output",
                lstm(order=("f", "i", "g", "o")), "the wrong blocks of A",
                must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "c_t without the forget gate", lstm(cell="c + i * g"),
                "c_t keeps all of c_{t-1}", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "c_t without the old cell", lstm(cell="i * g"),
                "c_t keeps nothing of c_{t-1}", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "h_t = o * c_t without tanh", lstm(hidden="o * c_t"),
                "the cell goes through tanh", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "tanh for the input gate", lstm(input_gate="fw.Tanh"),
                "the input gate is a tanh", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "sigmoid for the candidate", lstm(candidate="fw.Sigmoid"),
                "the candidate g is a σ", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "the pair returned as (c, h)", lstm(result="c_t, h_t"),
                "the wrong way round", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "no input gate", lstm(cell="f * c + g"),
                "look at each gate's block", must_not_say=NO_ARRAYS),
    WrongAnswer("14.3", "the output gate on the wrong thing", lstm(hidden="fw.Tanh(o * c_t)"),
                "c_t is right but h_t is not", must_not_say=NO_ARRAYS),
    # 14.4 steps for the gradient to vanish, by hand
    WrongAnswer("14.4", "one step too few", ("steps_to_vanish = 19",), "still at least",
                must_not_say=("20",)),
    WrongAnswer("14.4", "one step too many", ("steps_to_vanish = 21",), "is not the first",
                must_not_say=("20",)),
    WrongAnswer("14.4", "the exponent of 10⁻⁶", ("steps_to_vanish = 6",), "each step back halves",
                must_not_say=("20",)),
    # 14.5 an LSTM's trainable numbers, by hand
    WrongAnswer("14.5", "one gate only", ("lstm_parameters = 64 * 16 + 64 * 64 + 2 * 64",),
                "a quarter", must_not_say=("20992", "20,992")),
    WrongAnswer("14.5", "the biases forgotten", ("lstm_parameters = 4 * 64 * 16 + 4 * 64 * 64",),
                "did you count the biases", must_not_say=("20992", "20,992")),
    WrongAnswer("14.5", "one bias", ("lstm_parameters = 4 * 64 * 16 + 4 * 64 * 64 + 4 * 64",),
                "two biases", must_not_say=("20992", "20,992")),
    WrongAnswer("14.5", "weight_hh as wide as weight_ih",
                ("lstm_parameters = 2 * 4 * 64 * 16 + 2 * 4 * 64",),
                "too few numbers", must_not_say=("20992", "20,992")),
    WrongAnswer("14.5", "four biases per unit of each gate",
                ("lstm_parameters = 4 * 64 * 16 + 4 * 64 * 64 + 4 * 4 * 64",),
                "too many numbers", must_not_say=("20992", "20,992")),
    # 14.6 the GRU cell
    WrongAnswer("14.6", "gates in the order z, r, n", gru(order=("z", "r", "n")),
                "the wrong blocks", must_not_say=NO_ARRAYS),
    WrongAnswer("14.6", "z and 1 - z swapped", gru(new="z * n + (1 - z) * h"), "swapped",
                must_not_say=NO_ARRAYS),
    WrongAnswer("14.6", "b_hn outside the reset gate",
                gru(n="fw.Tanh(a_x[:, 2 * H:] + r * h_w[:, 2 * H:] + layer.bias_hh[2 * H:])"),
                "outside the reset gate's product", must_not_say=NO_ARRAYS),
    WrongAnswer("14.6", "no reset gate", gru(n="fw.Tanh(a_x[:, 2 * H:] + a_h[:, 2 * H:])"),
                "what the reset gate multiplies", must_not_say=NO_ARRAYS),
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
