"""The seed's module of the MNIST network, kept so that its imports work as written
(``from deeplearning.mnist_mlp import TwoLayerMLP``). The models now live in
`deeplearning.layers.models`; this module only re-exports them."""

from .layers.models import MLP, TwoLayerMLP

__all__ = ["MLP", "TwoLayerMLP"]
