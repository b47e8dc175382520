"""A faster weight gradient for convolutions with tiny outputs, on CPU.

oneDNN, which torch uses for CPU convolutions, computes the weight gradient of a convolution
whose output is only 1×1 or 2×2 pixels very slowly: an order of magnitude slower than the same
gradient as one matrix product over the unfolded input (im2col + GEMM); DESIGN.md ("Training:
CPU speed") has the measurement. Small images — digits, thumbnails — end every ResNet and
DenseNet in such layers, and there this gradient alone was half of the training step.

:func:`use_gemm_weight_gradient` switches a model's plain convolutions (no groups) to a
subclass that computes, while training on CPU in fp32 and only for outputs of at most
:data:`MAX_OUTPUT_PIXELS` pixels, the weight gradient by GEMM; the forward pass and the input
gradient stay oneDNN's. The choice depends only on shapes, never on timings, so training stays
exactly reproducible. Parameters and state-dict keys are unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Above this many output pixels oneDNN was as fast or faster in the measurements.
MAX_OUTPUT_PIXELS = 4


class _GemmWeightGradConv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, has_bias = ctx.conf
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, stride, padding, dilation, False, [0, 0], 1, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            out_channels, in_channels, kh, kw = weight.shape
            columns = F.unfold(x, (kh, kw), dilation, padding, stride)  # N, C·kh·kw, L
            grads = grad_out.flatten(2)  # N, O, L
            # Σ over images and positions of grad_out ⊗ columns: one (O × N·L) @ (N·L × C·kh·kw) product.
            grad_w = (grads.transpose(0, 1).reshape(out_channels, -1)
                      @ columns.transpose(1, 2).reshape(-1, in_channels * kh * kw)).view_as(weight)
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None


class GemmGradConv2d(torch.nn.Conv2d):
    """nn.Conv2d whose weight gradient is a GEMM for tiny outputs while training on CPU in fp32."""

    def forward(self, x):
        if (self.training and x.device.type == "cpu" and torch.is_grad_enabled() and self.weight.requires_grad
                and not torch.is_autocast_enabled("cpu") and x.dtype == torch.float32 and x.dim() == 4
                and self.padding_mode == "zeros" and self._output_pixels(x) <= MAX_OUTPUT_PIXELS):
            return _GemmWeightGradConv2d.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return super().forward(x)

    def _output_pixels(self, x) -> int:
        pixels = 1
        for size, k, s, p, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation):
            pixels *= (size + 2 * p - d * (k - 1) - 1) // s + 1
        return pixels


def use_gemm_weight_gradient(model: torch.nn.Module) -> int:
    """Switch the ungrouped, zero-padded Conv2d layers of ``model`` in place; returns how many."""
    count = 0
    for module in model.modules():
        if (type(module) is torch.nn.Conv2d and module.groups == 1 and module.padding_mode == "zeros"
                and isinstance(module.padding, tuple)):
            module.__class__ = GemmGradConv2d
            count += 1
    return count
