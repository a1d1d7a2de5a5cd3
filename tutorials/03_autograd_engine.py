# %% [markdown]
# # Chapter 3: The autograd engine
#
# **What you will learn**
#
# - what the engine records while you compute, drawn as a graph;
# - how reverse mode walks that graph: the topological order, step by step;
# - that the same network gives the same gradients on both paths of the library (hand-written
#   backward passes, and the engine);
# - higher order: a Hessian-vector product, and Newton's method on Rosenbrock's function.
#
# Drawing the graph needs Graphviz's `dot` (`apt-get install graphviz`, `brew install graphviz`);
# without it that one cell says so and the rest runs.

# %%
import shutil

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import SVG, display

import deeplearning as dl
from deeplearning.autograd import Tensor, grad, nn, plot_graph, topological_order
from deeplearning.autograd import functional as F
from deeplearning.training import batch_gradients

# %% [markdown]
# ## 1. A graph, recorded as you compute
#
# A `Tensor` created with `requires_grad=True` is a leaf. Every operation on it returns a new
# tensor that remembers the `Function` that made it (its `creator`), and that function
# remembers its inputs. That chain is the graph; nothing else is stored.

# %%
w = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
b = Tensor(np.array([0.1, -0.2]), requires_grad=True)
x = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
h = F.tanh(Tensor(x) @ w + b)
loss = (h**2).mean()
print("loss:", loss.item(), " made by", type(loss.creator).__name__)
if shutil.which("dot"):
    display(SVG(filename=str(plot_graph(loss, "graph.svg", params={"w": w, "b": b}))))
else:
    print("Graphviz's dot is not installed: the picture is skipped")

# %% [markdown]
# ## 2. The topological order, step by step
#
# `loss.backward()` lists the functions so that each comes after those that made its inputs,
# then visits them in **reverse**: every function gets the gradient of its output, summed over
# all the places its output was used, before it computes its inputs' gradients. Here is the
# walk, printed as it would happen.

# %%
order = topological_order(loss)
for step, function in enumerate(reversed(order), 1):
    inputs = ", ".join(str(x.shape) for x in function.saved_inputs())
    print(f"step {step}: {type(function).__name__:<12} gradients for its inputs of shapes {inputs}")
loss.backward()
print("dL/dw =\n", w.grad)

# %% [markdown]
# Check it against the formula. With $z = x w + b$, $h = \tanh z$ and $L = \mathrm{mean}(h^2)$
# over its $K$ entries: $\partial L / \partial h = 2h / K$, $\partial L/\partial z = \partial
# L / \partial h \cdot (1 - h^2)$, and $\partial L / \partial w = x^\top \partial L/\partial z$.

# %%
z = x @ w.data + b.data
hh = np.tanh(z)
dz = 2 * hh / hh.size * (1 - hh**2)
print("largest difference from the formula:", np.abs(x.T @ dz - w.grad).max())

# %% [markdown]
# ## 3. The same network on both paths
#
# `deeplearning.MLP` computes its gradients with hand-written backward passes;
# `deeplearning.autograd.nn.MLP` builds the same network from the engine's operations. Their
# parameters have the same names and shapes, so one `state_dict` loads into both, and their
# gradients agree to the last bits of float64.

# %%
layers_model = dl.MLP([784, 64, 10], rng=0, dtype=np.float64)
engine_model = nn.MLP([784, 64, 10], rng=1, dtype=np.float64)
engine_model.load_state_dict(layers_model.state_dict())
rng = np.random.default_rng(0)
xb, yb = rng.random((32, 784)), rng.integers(0, 10, 32)
for model in (layers_model, engine_model):
    batch_gradients(model, xb, yb)
for (name, p), (_, q) in zip(layers_model.named_parameters(), engine_model.named_parameters()):
    print(f"{name:>4}: largest difference {np.abs(p.grad - q.grad).max():.1e}")

# %% [markdown]
# ## 4. Higher order: a Hessian-vector product
#
# The engine writes each backward formula with its own operations, so with
# `create_graph=True` the gradient is itself a recorded tensor, and can be differentiated
# again. The Hessian-vector product $H v = \nabla (\nabla f \cdot v)$ then costs two backward
# passes, without ever forming $H$.

# %%
def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


p = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
v = np.array([1.0, 0.5])
(g,) = grad(rosenbrock(p), [p], create_graph=True)
(hv,) = grad((g * Tensor(v)).sum(), [p])
x0, y0 = p.data
hessian = np.array([[2 - 400 * (y0 - x0**2) + 800 * x0**2, -400 * x0], [-400 * x0, 200]])
print("Hv by the engine:", hv.data, " by the formula:", hessian @ v)

# %% [markdown]
# ## 5. Newton's method on Rosenbrock
#
# Newton's step solves $H \Delta = -\nabla f$ with the exact Hessian, built here column by
# column from second derivatives. Gradient descent, with the largest step that does not
# diverge here, crawls along the curved valley; Newton reaches the minimum at (1, 1) in a
# handful of steps.

# %%
def newton(start, steps):
    p, path = Tensor(np.array(start), requires_grad=True), [np.array(start)]
    for _ in range(steps):
        (g,) = grad(rosenbrock(p), [p], create_graph=True)
        hessian = np.stack([grad(g[i], [p], retain_graph=True)[0].data for i in range(2)])
        p = Tensor(p.data - np.linalg.solve(hessian, g.data), requires_grad=True)
        path.append(p.data.copy())
    return np.array(path)


def gradient_descent(start, steps, lr=1e-3):
    p, path = Tensor(np.array(start), requires_grad=True), [np.array(start)]
    for _ in range(steps):
        (g,) = grad(rosenbrock(p), [p])
        p = Tensor(p.data - lr * g.data, requires_grad=True)
        path.append(p.data.copy())
    return np.array(path)


by_newton, by_descent = newton([-1.2, 1.0], 7), gradient_descent([-1.2, 1.0], 2000)
for name, path in (("Newton", by_newton), ("gradient descent", by_descent)):
    print(f"{name}: {len(path) - 1} steps, ends at {path[-1].round(6)}")

xs, ys = np.meshgrid(np.linspace(-1.5, 1.5, 200), np.linspace(-0.5, 2, 200))
figure, axis = plt.subplots(figsize=(6, 4.5))
axis.contour(xs, ys, (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2, levels=np.logspace(-1, 3, 12),
             cmap="Greys")
axis.plot(*by_descent.T, ".-", markersize=2, label="gradient descent, 2,000 steps")
axis.plot(*by_newton.T, "o-", label="Newton, 7 steps")
axis.plot(1, 1, "r*", markersize=12, label="minimum (1, 1)")
axis.legend()
axis.set_title("Rosenbrock's function")
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Print `topological_order` for `loss = (a * b + a).sum()`: where does the gradient of `a`
#    get summed?
# 2. Compute the full Hessian of the MLP's loss above with respect to its last bias (10
#    numbers), and check that it is symmetric.
# 3. Run Newton from (2, 2) and from (-1, -0.5): does it still converge?
#
# <details><summary>Solutions</summary>
#
# 1. `a` is an input of both `Mul` and `Add`, so two gradients reach it; the engine adds them
#    (a leaf's into its `.grad`, another tensor's before its creator runs).
# 2. Build the loss on the engine with `create_graph=True`, take `(g,) = grad(loss, [b],
#    create_graph=True)`, then `grad(g[i], [b], retain_graph=True)` for each i; the matrix
#    equals its transpose to about 1e-16.
# 3. From both it converges, in a few more steps: Newton's step is exact for a quadratic, and
#    Rosenbrock is close to one near its minimum.
#
# </details>
