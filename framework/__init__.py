"""A small deep-learning framework built by hand: nodes, a topological sort, and passes."""

# operators attaches a + b, a / 2, a[i], a.sum()... to Node; exercises is the course's
# bookkeeping of which exercises passed (fw.exercises.correct, fw.exercises.yours_or_ours);
# layers is the module system (fw.layers, or: from framework import layers as L).
from . import exercises, layers, operators  # noqa: F401
from .activations import ReLU, Sigmoid, Tanh
from .arithmetic import Add, Divide, MatMul, Multiply, Negate, Power, Subtract, sum_to_shape
from .batching import minibatches
from .checkpoint import load_model, save_model
from .clipping import clip_grad_norm
from .compiler import compile  # fw.compile: shadows the builtin in this namespace only
from .convolution import Conv2d
from .drawing import draw_graph, to_networkx
from .dropout import Dropout
from .exponentials import Exp, Log, exp, log
from .gradcheck import gradient_check, numerical_gradient
from .indexing import Index
from .joining import Concatenate, Stack, concatenate, stack
from .linear import Linear
from .losses import MSE, SoftmaxCrossEntropy
from .node import Constant, Input, Node, Parameter, Placeholder, as_node
from .normalization import BatchNorm
from .optimizers import SGD, Adam, Momentum, optimize, trainables
from .passes import backward, forward, run_steps
from .pooling import MaxPool2d
from .reductions import Mean, Sum
from .shapes import Flatten, Reshape, Transpose, transpose
from .softmax import LogSoftmax, Softmax, log_softmax, softmax
from .sort import topological_sort
from .training import train

__version__ = "0.1.0"

__all__ = [
    "Adam", "Add", "Constant", "Input", "Linear", "MSE", "MatMul", "Momentum", "Multiply",
    "Negate", "Node", "Parameter", "Placeholder", "ReLU", "SGD", "Sigmoid",
    "SoftmaxCrossEntropy", "Subtract", "Tanh", "as_node", "backward", "draw_graph", "forward",
    "gradient_check", "load_model", "minibatches", "numerical_gradient", "optimize",
    "run_steps", "save_model", "sum_to_shape", "to_networkx", "topological_sort",
    "train", "trainables", "__version__",
    "Conv2d", "Divide", "Exp", "Flatten", "Index", "Log", "MaxPool2d", "Mean", "Power",
    "Reshape", "Sum", "Transpose", "exp", "log", "transpose",
    "BatchNorm", "Dropout", "layers",
    "Concatenate", "LogSoftmax", "Softmax", "Stack", "concatenate", "log_softmax",
    "softmax", "stack",
    "clip_grad_norm",
    "compile",
]
