"""Loss functions: each turns predictions and targets into one number to minimise."""

import numpy as np

from .node import Node


class MSE(Node):
    """Mean squared error, L = mean((ŷ - y)²) over all n elements.

    ∂L/∂ŷ = 2 (ŷ - y) / n and ∂L/∂y = -2 (ŷ - y) / n. Targets of shape (batch,) are accepted
    for predictions of shape (batch, 1), the usual shape of a one-output regression.
    """

    kind = "loss"

    def __init__(self, y_pre, y, name=None):
        super().__init__([y_pre, y], name=name)

    def forward(self):
        y_pre, y = self.inputs
        target = y.value
        if y_pre.value.size == 0:
            raise ValueError(f"{self!r}: prediction {y_pre.name} is empty (shape "
                             f"{y_pre.value.shape}); a batch needs at least one row")
        if target.shape != y_pre.value.shape:
            if target.shape + (1,) != y_pre.value.shape:
                raise ValueError(
                    f"{self!r}: prediction {y_pre.name} has shape {y_pre.value.shape} but target "
                    f"{y.name} has shape {target.shape}; expected the same shape, or (batch,) "
                    "targets for (batch, 1) predictions"
                )
            target = target.reshape(y_pre.value.shape)
        self.diff = y_pre.value - target
        # sum / n is what np.mean computes, without its Python wrapper (a step pays for it)
        self.value = (self.diff * self.diff).sum() / self.diff.size

    def backward(self):
        y_pre, y = self.inputs
        grad = self.upstream_gradient() * (2.0 / self.diff.size) * self.diff
        if y_pre.needs_gradient:
            self.send_gradient(y_pre, grad)
        if y.needs_gradient:
            self.send_gradient(y, -grad.reshape(y.value.shape))


class SoftmaxCrossEntropy(Node):
    """Mean cross-entropy of softmax(logits) against integer class labels.

    For a row z with label c: L = log Σ_j e^{z_j} - z_c, computed as m + log Σ_j e^{z_j - m}
    with m = max_j z_j, so no exponential overflows (log-sum-exp). Averaged over the batch B:
    ∂L/∂z = (softmax(z) - onehot(c)) / B. Labels are class ids and get no gradient.
    """

    kind = "loss"

    def __init__(self, logits, labels, name=None):
        super().__init__([logits, labels], name=name)

    def forward(self):
        logits, labels = self.inputs
        z = logits.value
        if z.ndim != 2 or labels.value.shape != (z.shape[0],) or 0 in z.shape:
            raise ValueError(
                f"{self!r}: logits {logits.name} have shape {z.shape} and labels {labels.name} "
                f"have shape {labels.value.shape}; expected (batch, classes) and (batch,), "
                "with at least one row and one class"
            )
        self.classes = self._class_ids(labels.value, z.shape[1])
        shifted = z - z.max(axis=1, keepdims=True)
        self.exp = np.exp(shifted)
        self.total = self.exp.sum(axis=1, keepdims=True)
        self.rows = np.arange(z.shape[0])
        self.value = (np.log(self.total[:, 0]) - shifted[self.rows, self.classes]).sum() / len(z)

    def _class_ids(self, labels, n_classes):
        # Clamped into [-0.5, n - 0.5] first (fmax and fmin also turn NaN into a bound), the
        # labels cast to int without a warning; then a label is valid exactly when it equals
        # its class id: a fraction, a NaN, an inf or a label out of range loses something.
        classes = np.fmin(np.fmax(labels, -0.5), n_classes - 0.5).astype(np.intp)
        valid = classes == labels
        if not valid.all():
            bad = labels[~valid]
            raise ValueError(
                f"{self!r}: labels must be whole numbers from 0 to {n_classes - 1} "
                f"(the logits have {n_classes} classes); got {bad[:5].tolist()}"
            )
        return classes

    def backward(self):
        logits = self.inputs[0]
        if logits.needs_gradient:
            grad = self.exp / self.total  # the softmax: a new array, ours to change in place
            grad[self.rows, self.classes] -= 1.0
            grad *= self.upstream_gradient() / len(self.classes)
            self.send_gradient(logits, grad)
