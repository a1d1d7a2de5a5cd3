# %% [markdown]
# # Chapter 1: Backpropagation by hand
#
# **What you will learn**
#
# - how the chain rule turns into a backward pass, one layer at a time;
# - how to reproduce Matt Mazur's well-known worked example
#   ("A Step by Step Backpropagation Example", 2015) to the printed digits, first in NumPy and
#   then with this library's layers;
# - the backward pass of Linear → ReLU → cross-entropy on a batch, written out;
# - how a gradient check tells a right backward pass from a wrong one.
#
# Everything here runs on a laptop in seconds. Run the cells in order.

# %%
import numpy as np

from deeplearning import SGD, CrossEntropyLoss, Layer, Linear, MSELoss, ReLU, Sigmoid
from deeplearning import numerical_gradient, relative_error

np.set_printoptions(precision=9, suppress=True)

# %% [markdown]
# ## 1. Mazur's network, forward, in NumPy
#
# Two inputs, two sigmoid hidden units, two sigmoid outputs, and the squared error
# $E = \sum_k \frac12 (t_k - o_k)^2$. The weights are the post's: $w_1 \dots w_8$, and one bias
# per layer shared by its two units.
#
# In this library a `Linear` computes $y = x W + b$ with $W$ of shape (in, out), so the column
# $j$ of $W$ holds the weights *into* unit $j$: $h_1 = \sigma(w_1 i_1 + w_2 i_2 + b_1)$ puts
# $w_1, w_2$ in column 0.

# %%
x = np.array([[0.05, 0.10]])        # i1, i2: one example, a row
t = np.array([[0.01, 0.99]])        # the targets
W1 = np.array([[0.15, 0.25],        # w1 w3
               [0.20, 0.30]])       # w2 w4
b1 = np.array([0.35, 0.35])
W2 = np.array([[0.40, 0.50],        # w5 w7
               [0.45, 0.55]])       # w6 w8
b2 = np.array([0.60, 0.60])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


net_h = x @ W1 + b1
out_h = sigmoid(net_h)
net_o = out_h @ W2 + b2
out_o = sigmoid(net_o)
E = 0.5 * np.sum((t - out_o) ** 2)
print("net_h1:", net_h[0, 0], "(the post: 0.3775)")
print("out_h: ", out_h[0], "(the post: 0.593269992, 0.596884378)")
print("out_o: ", out_o[0], "(the post: 0.75136507, 0.772928465)")
print("E:     ", E, "(the post: 0.298371109)")

# %% [markdown]
# ## 2. Backward, in NumPy
#
# The chain rule, from the loss back. For the output layer, with $\delta_o = \partial E /
# \partial\,net_o$:
#
# $$\frac{\partial E}{\partial out_o} = out_o - t, \qquad
# \delta_o = (out_o - t)\, out_o (1 - out_o), \qquad
# \frac{\partial E}{\partial W_2} = out_h^\top \delta_o .$$
#
# The hidden layer gets $\partial E / \partial out_h = \delta_o W_2^\top$, and the same steps
# again. Each line below is one of these formulas.

# %%
d_out_o = out_o - t
delta_o = d_out_o * out_o * (1 - out_o)
dW2 = out_h.T @ delta_o
d_out_h = delta_o @ W2.T
delta_h = d_out_h * out_h * (1 - out_h)
dW1 = x.T @ delta_h
print("dE/dw5:", dW2[0, 0], "(the post: 0.082167041)")
print("dE/dw1:", dW1[0, 0], "(the post: 0.000438568)")

# %% [markdown]
# One step of gradient descent with the post's learning rate 0.5 (the post leaves the biases as
# they are):

# %%
lr = 0.5
W2_new, W1_new = W2 - lr * dW2, W1 - lr * dW1
print("w5..w8:", W2_new.T.ravel(), "(the post: 0.35891648 0.408666186 0.511301270 0.561370121)")
print("w1..w4:", W1_new.T.ravel(), "(the post: 0.149780716 0.19956143 0.24975114 0.29950229)")

# %% [markdown]
# ## 3. The same with the library's layers
#
# Each layer has `forward(x)` and a hand-written `backward(dout)`: it takes dL/d(output),
# **sets** the gradients of its parameters (`layer.W.grad`), and returns dL/d(input). The
# model's backward pass is the layers' backward passes in reverse order.
#
# `MSELoss` is PyTorch's: the *mean* of the squares, here over two outputs, which is Mazur's
# $\frac12 \sum$.

# %%
fc1, act1, fc2 = Linear(2, 2, dtype=np.float64), Sigmoid(), Linear(2, 2, dtype=np.float64)
act2, loss_fn = Sigmoid(), MSELoss()
fc1.W.data[...], fc1.b.data[...] = W1, b1
fc2.W.data[...], fc2.b.data[...] = W2, b2
fc1.b.requires_grad = fc2.b.requires_grad = False   # the post trains the weights only


def step():
    """One forward and backward pass; returns the loss."""
    out = act2.forward(fc2.forward(act1.forward(fc1.forward(x))))
    loss = loss_fn.forward(out, t)
    fc1.backward(act1.backward(fc2.backward(act2.backward(loss_fn.backward()))))
    return loss


print("E:", step())
print("dW2 equals NumPy's:", np.allclose(fc2.W.grad, dW2), " dW1:", np.allclose(fc1.W.grad, dW1))

# %%
optimizer = SGD([fc1.W, fc1.b, fc2.W, fc2.b], lr=0.5)
optimizer.step()
print("w5..w8:", fc2.W.data.T.ravel())
print("w1..w4:", fc1.W.data.T.ravel())
print("E after one step:", step(), "(the post: 0.291027924)")

# %% [markdown]
# The post's error after the step, 0.291027924, differs from ours in the seventh digit: it was
# computed from weights rounded to the printed digits. Training on, the post reports 0.0000351085
# after 10,000 rounds:

# %%
for _ in range(9_999):
    optimizer.step()
    loss = step()
print(f"E after 10,000 steps: {loss:.10f} (the post: 0.0000351085)")

# %% [markdown]
# ## 4. Linear → ReLU → cross-entropy on a batch
#
# A classifier's step: logits $z = \mathrm{ReLU}(x W_1 + b_1) W_2 + b_2$, the mean
# cross-entropy $L = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{y_n}$. Its gradient with
# respect to the logits is the famous $\frac1N(\mathrm{softmax}(z) - \mathrm{onehot}(y))$,
# and ReLU's backward lets the gradient through where its input was positive.

# %%
rng = np.random.default_rng(0)
xb, yb = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
lin1, relu, lin2 = (Linear(5, 4, rng=1, dtype=np.float64), ReLU(),
                    Linear(4, 3, rng=2, dtype=np.float64))
ce = CrossEntropyLoss()

loss = ce.forward(lin2.forward(relu.forward(lin1.forward(xb))), yb)
lin1.backward(relu.backward(lin2.backward(ce.backward())))

# The same in NumPy, formula by formula.
pre = xb @ lin1.W.data + lin1.b.data
hidden = np.maximum(pre, 0)
logits = hidden @ lin2.W.data + lin2.b.data
shifted = logits - logits.max(axis=1, keepdims=True)           # stable softmax
probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
print("loss:", loss, "by hand:", -np.mean(np.log(probs[np.arange(8), yb])))
dlogits = (probs - np.eye(3)[yb]) / len(xb)
dW2_b, dhidden = hidden.T @ dlogits, dlogits @ lin2.W.data.T
dW1_b = xb.T @ (dhidden * (pre > 0))
print("largest differences, dW2:", np.abs(dW2_b - lin2.W.grad).max(),
      " dW1:", np.abs(dW1_b - lin1.W.grad).max())

# %% [markdown]
# ## 5. The gradient check, and what a wrong backward looks like
#
# Central differences estimate a derivative from the forward pass alone:
# $\frac{\partial L}{\partial x_i} \approx \frac{L(x_i + \epsilon) - L(x_i - \epsilon)}{2\epsilon}$,
# with an error of order $\epsilon^2$. Against it, a right backward pass agrees to about
# $10^{-10}$ (relative) in float64; a wrong one by far more.

# %%
dout = rng.standard_normal((8, 4))
layer = Linear(5, 4, rng=3, dtype=np.float64)
layer.forward(xb)
analytic = layer.backward(dout)
numeric = numerical_gradient(lambda: layer.forward(xb), xb, dout)
print("Linear, dL/dx relative error:", relative_error(analytic, numeric))


class WrongSigmoid(Layer):
    """A sigmoid whose backward forgets the (1 - y) factor: a classic slip."""

    def forward(self, x):
        self.y = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, dout):
        return dout * self.y            # should be dout * self.y * (1 - self.y)


z = rng.standard_normal((8, 4))
for candidate in (Sigmoid(), WrongSigmoid()):
    candidate.forward(z)
    analytic = candidate.backward(dout)
    numeric = numerical_gradient(lambda: candidate.forward(z), z, dout)
    print(f"{type(candidate).__name__:>12}: relative error {relative_error(analytic, numeric):.1e}")

# %% [markdown]
# The error of the wrong backward is of order 1, not $10^{-10}$: the check catches the slip
# before any training would have shown it (a network with this sigmoid still learns, slowly
# and badly, which is much harder to notice).
#
# ## Exercises
#
# 1. Change Mazur's learning rate to 5 and to 0.05: how many steps does each take to bring $E$
#    below $10^{-3}$?
# 2. Write `backward` for $f(x) = x^3$ elementwise as a `Layer`, and check it.
# 3. In section 4, replace ReLU by `Tanh` and redo the NumPy backward by hand.
#
# <details><summary>Solutions</summary>
#
# 1. Run `step()` and `optimizer.step()` in a loop with `SGD(..., lr=5)` and count; larger
#    steps get there in fewer rounds here, because the error surface of this tiny network is
#    smooth.
# 2. `forward` keeps `x` and returns `x ** 3`; `backward(dout)` returns `3 * x ** 2 * dout`.
#    `numerical_gradient(lambda: layer.forward(x), x, dout)` agrees to about 1e-10.
# 3. `dhidden * (1 - hidden ** 2)` replaces `dhidden * (pre > 0)`, with `hidden = tanh(pre)`.
#
# </details>
