"""Notebook 12's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "12_layers_and_models.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers
NO_FACTOR = NO_ARRAYS + ("1.43", "1.428", "1.25", "1.11")  # 1/(1 − p) for p = 0.3, 0.2, 0.1
NO_NAMES = ("3.weight", "4.weight", "5.weight", "4.bias")


def blank(number, *pieces):
    """The learner's edition's stubs, one per region."""
    return tuple(f'raise NotImplementedError("Exercise {number} is not done yet: write the body '
                 f'of {piece}")' for piece in pieces)


def not_done(number, *pieces, says=None):
    return WrongAnswer(number, "the blank", blank(number, *pieces),
                       says or f"Exercise {number} is not done yet", error="NotImplementedError")


# 12.1 TeachingLayer.parameters
WALK = """
found = []
for value in vars(self).values():
    if isinstance(value, {own}):
        candidates = [value]
    elif isinstance(value, TeachingLayer):
        candidates = {inner}
    else:
        continue
    for parameter in candidates:
        {add}
return {result}
"""


def walk(own="fw.Parameter", inner="value.parameters()",
         add="if parameter not in found:\n            found.append(parameter)", result="found"):
    return (WALK.format(own=own, inner=inner, add=add, result=result),)

SUB_LAYERS_FIRST = """
own = [value for value in vars(self).values() if isinstance(value, fw.Parameter)]
found = []
for value in vars(self).values():
    if isinstance(value, TeachingLayer):
        found.extend(node for node in value.parameters() if node not in found)
return found + own
"""

# 12.2 TeachingSequential.__init__ and forward
SETATTR = """
self.layers = list(layers)
for index, layer in {pairs}:
    setattr(self, str(index), layer)
"""
FORWARD = """
for layer in {layers}:
    x = layer(x)
return x
"""


def sequential(pairs="enumerate(layers)", layers="self.layers", init=None, forward=None):
    return (init or SETATTR.format(pairs=pairs), forward or FORWARD.format(layers=layers))


# 12.3 TeachingDropout.forward and backward
DROPOUT_FORWARD = """
x, layer = self.inputs[0].value, self.layer
if {training}:
    keep = {keep}
    self.mask = {mask}
    self.value = x * self.mask
else:
    self.mask = None
    self.value = {evaluation}
"""
DROPOUT_BACKWARD = """
upstream = self.upstream_gradient()
self.send_gradient(self.inputs[0], {grad})
"""


def dropout(training="layer.training", keep="layer.rng.random(np.shape(x)) >= layer.p",
            mask="keep * (1.0 / (1.0 - layer.p))", evaluation="x",
            grad="upstream if self.mask is None else upstream * self.mask", forward=None):
    return (forward or DROPOUT_FORWARD.format(training=training, keep=keep, mask=mask,
                                              evaluation=evaluation),
            DROPOUT_BACKWARD.format(grad=grad))


ONE_MASK = """
x, layer = self.inputs[0].value, self.layer
if layer.training:
    if self.mask is None:
        keep = layer.rng.random(np.shape(x)) >= layer.p
        self.mask = keep * (1.0 / (1.0 - layer.p))
    self.value = x * self.mask
else:
    self.value = x
"""
NEW_MASK = ("upstream * ((self.layer.rng.random(np.shape(upstream)) >= self.layer.p)"
            " * (1.0 / (1.0 - self.layer.p)))")


# 12.4 TeachingBatchNorm.backward
BATCHNORM = """
x, weight, bias = self.inputs
G = self.upstream_gradient()
{pre}
grad_sum = {grad_sum}
grad_x_hat_sum = {grad_x_hat_sum}
self.send_gradient(bias, {beta})
self.send_gradient(weight, {gamma})
scale = {scale}
if self.batch_statistics:
    m = len(G)
    grad_x = {train}
else:
    grad_x = {evaluate}
self.send_gradient(x, grad_x)
"""
RIGHT_TRAIN = "(scale / m) * (m * G - grad_sum - self.x_hat * grad_x_hat_sum)"


def batchnorm(pre="", grad_sum="G.sum(axis=0)", grad_x_hat_sum="(G * self.x_hat).sum(axis=0)",
              beta="grad_sum", gamma="grad_x_hat_sum", scale="weight.value * self.inv_std",
              train=RIGHT_TRAIN, evaluate="scale * G"):
    return (BATCHNORM.format(pre=pre, grad_sum=grad_sum, grad_x_hat_sum=grad_x_hat_sum,
                             beta=beta, gamma=gamma, scale=scale, train=train,
                             evaluate=evaluate),)


# 12.5 TeachingSGD.step
def sgd(grad="node.gradients[node] + self.weight_decay * node.value",
        update="node.value = node.value - self.learning_rate * grad"):
    return (f"""
for node in fw.trainables(graph):
    grad = {grad}
    {update}
""",)


# 12.6 teaching_clip_grad_norm
CLIP = """
nodes = fw.trainables(graph)
norm = {norm}
factor = max_norm / (norm + 1e-6)
if {condition}:
    for node in nodes:
        node.gradients[node] = node.gradients[node] * factor
return {result}
"""
SQUARES = "sum(float(np.sum(node.gradients[node] ** 2)) for node in nodes)"


def clip(norm=f"float(np.sqrt({SQUARES}))", condition="factor < 1", result="norm"):
    return (CLIP.format(norm=norm, condition=condition, result=result),)


PER_NODE = f"""
nodes = fw.trainables(graph)
norm = float(np.sqrt({SQUARES}))
for node in nodes:
    own = float(np.sqrt(np.sum(node.gradients[node] ** 2)))
    if own > max_norm:
        node.gradients[node] = node.gradients[node] * (max_norm / (own + 1e-6))
return norm
"""


def names(*listed):
    return (f"names = {list(listed)!r}",)


WRONG = [
    # 12.1 the parameters of a layer
    not_done("12.1", "TeachingLayer.parameters"),
    WrongAnswer("12.1", "the sub-layers forgotten",
                ("return [value for value in vars(self).values() "
                 "if isinstance(value, fw.Parameter)]",),
                "the parameters of its sub-layers", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "one level of sub-layers only",
                walk(inner="[v for v in vars(value).values() if isinstance(v, fw.Parameter)]"),
                "a layer inside a sub-layer", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "a layer held twice listed twice",
                walk(add="found.append(parameter)"), "twice", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "the sub-layers' parameters first", (SUB_LAYERS_FIRST,),
                "in the order", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "sorted by name",
                walk(result="sorted(found, key=lambda node: node.name)"),
                "in the order", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "every node, not only the parameters", walk(own="fw.Node"),
                "not a Parameter node", must_not_say=NO_ARRAYS),
    # 12.2 Sequential
    not_done("12.2", "TeachingSequential.__init__", "TeachingSequential.forward"),
    WrongAnswer("12.2", "the layers kept in a list only",
                sequential(init="self.layers = list(layers)"),
                "no layer is an attribute", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "the layers run from the last", sequential(layers="reversed(self.layers)"),
                "from the last to the first", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "every layer on x itself",
                sequential(forward="out = x\nfor layer in self.layers:\n    out = layer(x)\n"
                                   "return out"),
                "applied to x itself", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "the attributes in reverse order",
                sequential(pairs="reversed(list(enumerate(layers)))"),
                "not the three layers in the order", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "forward returns nothing",
                sequential(forward="for layer in self.layers:\n    x = layer(x)"),
                "returned None, not a node", must_not_say=NO_ARRAYS),
    # 12.3 dropout
    not_done("12.3", "TeachingDropout.forward", "TeachingDropout.backward"),
    WrongAnswer("12.3", "no 1/(1 − p) scaling", dropout(mask="keep * 1.0"),
                "not scaled", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "scaling by p", dropout(mask="keep / layer.p"),
                "scaled with p", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "multiplying by 1 − p", dropout(mask="keep * (1.0 - layer.p)"),
                "wrong factor", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "keeping with probability p",
                dropout(keep="layer.rng.random(np.shape(x)) < layer.p"),
                "1 − p of the entries were zeroed", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "one mask for every pass", dropout(forward=ONE_MASK),
                "zeroed the same entries", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "a new mask in backward", dropout(grad=NEW_MASK),
                "another mask", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "backward without the scale",
                dropout(grad="upstream if self.mask is None else upstream * (self.mask != 0)"),
                "unscaled", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "dropping in evaluation", dropout(training="True"),
                "drops nothing", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "evaluation scaled by 1 − p", dropout(evaluation="x * (1.0 - layer.p)"),
                "scales x by 1 − p", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "p written into the code",
                dropout(keep="layer.rng.random(np.shape(x)) >= 0.3",
                        mask="keep * (1.0 / (1.0 - 0.3))"),
                "read p from self.layer", must_not_say=NO_FACTOR),
    WrongAnswer("12.3", "another draw than fw.Dropout's",
                dropout(keep="layer.rng.random(np.shape(x)) < 1.0 - layer.p"),
                "not fw.Dropout's", must_not_say=NO_FACTOR),
    # 12.4 batch normalization's backward pass
    not_done("12.4", "TeachingBatchNorm.backward"),
    WrongAnswer("12.4", "the mean and variance terms forgotten", batchnorm(train="scale * G"),
                "does not sum to 0", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the mean term forgotten",
                batchnorm(train="(scale / m) * (m * G - self.x_hat * grad_x_hat_sum)"),
                "does not sum to 0", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the variance term forgotten",
                batchnorm(train="(scale / m) * (m * G - grad_sum)"),
                "comes from σ²", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the variance with n − 1",
                batchnorm(pre="inv_std = 1.0 / np.sqrt(x.value.var(axis=0, ddof=1) "
                              "+ self.layer.eps)",
                          scale="weight.value * inv_std"),
                "times a constant close to 1", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "m − 1 in the formula",
                batchnorm(train="(scale / (m - 1)) * (m * G - grad_sum - "
                                "self.x_hat * grad_x_hat_sum)"),
                "times a constant close to 1", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the sums over the features",
                batchnorm(grad_sum="G.sum(axis=1)", grad_x_hat_sum="(G * self.x_hat).sum(axis=1)"),
                "axis 0", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the sums over the features, kept as columns",
                batchnorm(grad_sum="G.sum(axis=1, keepdims=True)",
                          grad_x_hat_sum="(G * self.x_hat).sum(axis=1, keepdims=True)"),
                "one number per feature", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "γ forgotten in ∂L/∂x", batchnorm(scale="self.inv_std"),
                "misses γ", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "∂L/∂β and ∂L/∂γ swapped",
                batchnorm(beta="grad_x_hat_sum", gamma="grad_sum"),
                "β_j is added", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the training formula after an evaluation pass",
                batchnorm(evaluate="(scale / len(G)) * (len(G) * G - grad_sum - "
                                   "self.x_hat * grad_x_hat_sum)"),
                "evaluation pass", must_not_say=NO_ARRAYS),
    # 12.5 weight decay
    not_done("12.5", "TeachingSGD.step"),
    WrongAnswer("12.5", "no decay", sgd(grad="node.gradients[node]"),
                "plain SGD's", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "the decay subtracted",
                sgd(grad="node.gradients[node] - self.weight_decay * node.value"),
                "away from 0", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "the bias decayed only",
                sgd(grad="node.gradients[node] + (self.weight_decay * node.value "
                         "if node.value.ndim == 1 else 0.0)"),
                "W took a plain SGD step", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "the weights decayed only",
                sgd(grad="node.gradients[node] + (self.weight_decay * node.value "
                         "if node.value.ndim > 1 else 0.0)"),
                "b took a plain SGD step", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "the decay not scaled by the learning rate",
                sgd(grad="node.gradients[node]",
                    update="node.value = node.value - self.learning_rate * grad "
                           "- self.weight_decay * node.value"),
                "not scaled by the learning rate", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "the values changed in place",
                sgd(update="node.value -= self.learning_rate * grad"),
                "in place", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "λ written into the code",
                sgd(grad="node.gradients[node] + 0.5 * node.value"),
                "is off", must_not_say=NO_ARRAYS),
    # 12.6 gradient clipping
    not_done("12.6", "teaching_clip_grad_norm"),
    WrongAnswer("12.6", "each gradient clipped on its own", (PER_NODE,),
                "on its own", must_not_say=NO_ARRAYS),
    WrongAnswer("12.6", "always scaled", clip(condition="True"),
                "scaled only when", must_not_say=NO_ARRAYS),
    WrongAnswer("12.6", "the norm after clipping returned",
                clip(result="norm * min(factor, 1.0)"),
                "after clipping", must_not_say=NO_ARRAYS),
    WrongAnswer("12.6", "no square root", clip(norm=SQUARES),
                "square root", must_not_say=NO_ARRAYS),
    WrongAnswer("12.6", "nothing returned", clip(result="None"),
                "returned None", must_not_say=NO_ARRAYS),
    # 12.7 the names of a model's parameters
    WrongAnswer("12.7", "the blank", ("names = ...",), "Exercise 12.7 is not done yet",
                error="NotImplementedError"),
    WrongAnswer("12.7", "only the layers with parameters numbered",
                names("0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias",
                      "3.weight", "3.bias"),
                "as if only those with parameters counted", must_not_say=NO_NAMES),
    WrongAnswer("12.7", "counted from 1",
                names("1.weight", "1.bias", "4.weight", "4.bias", "5.weight", "5.bias",
                      "6.weight", "6.bias"),
                "from 0", must_not_say=NO_NAMES),
    WrongAnswer("12.7", "batch normalization's parameters forgotten",
                names("0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "5.bias"),
                "two names are missing", must_not_say=NO_NAMES),
    WrongAnswer("12.7", "the running estimates taken for parameters",
                names("0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias",
                      "4.running_mean", "4.running_var", "5.weight", "5.bias"),
                "buffers", must_not_say=NO_NAMES),
    WrongAnswer("12.7", "the bias before the weight",
                names("0.bias", "0.weight", "3.bias", "3.weight", "4.bias", "4.weight",
                      "5.bias", "5.weight"),
                "wrong order", must_not_say=NO_NAMES),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[f"{w.exercise} {w.why}" for w in WRONG])
def test_the_check_catches_a_wrong_answer(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
