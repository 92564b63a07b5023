//===- Layers.h - Quantizable layers of float linalg IR ---------*- C++ -*-===//
//
// Finds the layers post-training quantization works on (a linalg matmul or
// 2-D convolution with its activation, constant weight, bias and ReLU) in
// the form the PyTorch importer emits, matching by linalg interfaces rather
// than by op names. Shared by observer insertion and the PTQ rewriting so
// both name and delimit layers identically.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_LAYERS_H
#define QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_LAYERS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <string>

namespace mlir::quantx {

class ObserveOp;

/// What a layer computes.
enum class LayerKind {
  Matmul,      ///< [M, K] x [K, N] (or [N, K]) -> [M, N].
  Conv2D,      ///< NCHW input, FCHW filter (grouped: see `groups`).
  Unsupported, ///< A contraction or convolution of another form.
};

/// One quantizable layer and the float ops around it.
struct Layer {
  linalg::LinalgOp op;
  LayerKind kind = LayerKind::Unsupported;
  /// Stable name: from the op's location, else `<op>_<n>`.
  std::string name;
  /// The activation operand of `op` (the padded tensor for a padded conv).
  OpOperand *activationOperand = nullptr;
  /// Zero padding of a conv's spatial dimensions folded from a tensor.pad
  /// (top, bottom, left, right), as quantx.conv2d takes it, and the pad op.
  tensor::PadOp pad;
  SmallVector<int64_t, 4> padding = {0, 0, 0, 0};
  /// The weight operand of `op`.
  OpOperand *weightOperand = nullptr;
  /// A grouped convolution (linalg.conv_2d_ngchw_gfchw) reads its NCHW
  /// input through `groupExpand` ([N, C, H, W] -> [N, G, C/G, H, W]) and
  /// its [N, G, F/G, OH, OW] result is read as NCHW through
  /// `groupCollapse`; its filter is [G, F/G, C/G, KH, KW], the same
  /// elements as the [F, C/G, KH, KW] filter of quantx.conv2d.
  int64_t groups = 1;
  tensor::ExpandShapeOp groupExpand;
  tensor::CollapseShapeOp groupCollapse;
  /// Matmul: the weight is [N, K] (a PyTorch Linear weight).
  bool transposeRhs = false;
  /// Why `kind` is Unsupported.
  std::string unsupportedReason;
  /// Whether an input of `op` is a constant. Without one (attention's
  /// activation x activation products) the op has no weights to quantize:
  /// PTQ keeps it in float and calibration does not observe it.
  bool hasConstantInput = false;

  /// Bias: a 1-D constant over the output channels, added by `biasOp` (an
  /// element-wise generic) or used as the broadcast initial value of the
  /// accumulator (`biasInit`).
  DenseElementsAttr bias;
  Operation *biasOp = nullptr;
  bool biasInit = false;
  /// A 1-D convolution (the importer's 2-D one on [N, C, 1, L]) whose
  /// ReLU or clamp reads it back as [N, C, L]: that collapse.
  tensor::CollapseShapeOp collapse1d;
  /// The ReLU generic that follows, if any.
  Operation *reluOp = nullptr;
  /// Or a clamp to [0, clampMax] (ReLU6 is clampMax = 6): a generic of
  /// max(x, 0) then min(., clampMax).
  Operation *clampOp = nullptr;
  double clampMax = 0.0;
  /// The last value of the layer (after bias and ReLU).
  Value output;

  /// The activation the layer reads, looking through the folded pad and
  /// the group expansion.
  Value activation() {
    if (pad)
      return pad.getSource();
    return groupExpand ? groupExpand.getSrc() : activationOperand->get();
  }
  /// The layer's product before bias and ReLU, as NCHW for a grouped conv.
  Value product() {
    return groupCollapse ? Value(groupCollapse.getResult()) : op->getResult(0);
  }
  /// The output channel axis of `output`.
  int64_t channelAxis() const;
};

/// An element-wise sum of two computed tensors of one shape (a residual
/// connection, `x + f(x)`) and the ReLU that may follow it. Static PTQ
/// turns it into a quantx.add when every reader of its result is quantized.
struct ResidualAdd {
  /// The linalg.generic adding its two inputs.
  linalg::GenericOp op;
  /// From the op's location, else `add_<n>`.
  std::string name;
  /// The ReLU generic that follows, if any.
  Operation *reluOp = nullptr;
  /// The sum, or the ReLU's result.
  Value output;

  Value lhs() { return op.getDpsInputOperand(0)->get(); }
  Value rhs() { return op.getDpsInputOperand(1)->get(); }
};

/// Finds the residual additions of `func` in walk order: generics whose
/// body adds their two f32 inputs, all indexing maps the identity, no
/// input a constant (a bias addition is part of its layer).
SmallVector<ResidualAdd> findResidualAdds(func::FuncOp func);

/// Average pooling: a linalg.pooling_nchw_sum from zero, scaled by a
/// constant (1 / window size) in the element-wise generic that is its only
/// reader, as the importer writes avg_pool2d and adaptive_avg_pool2d.
/// Static PTQ pools the uint8 storage when a quantized op reads the result.
struct AveragePool {
  linalg::PoolingNchwSumOp pool;
  linalg::GenericOp scaleOp;
  /// The constant the window sums are multiplied by.
  double multiplier = 0.0;
  /// From the pool's location, else `avgpool_<n>`.
  std::string name;

  Value input() { return pool.getInputs()[0]; }
  Value output() { return scaleOp->getResult(0); }
};

/// Finds the average poolings of `func` in walk order.
SmallVector<AveragePool> findAveragePools(func::FuncOp func);

/// Finds the layers of `func` in walk order. Layers whose op is a
/// contraction or convolution but not one of the supported forms get
/// LayerKind::Unsupported with a reason.
SmallVector<Layer, 4> findLayers(func::FuncOp func);

/// The quantx.observe that is the only reader of `v` (what
/// quantx-insert-observers leaves on an observed value), if any.
ObserveOp getObserver(Value v);

/// The constant value of `v` (through arith.constant), if any.
DenseElementsAttr getConstantElements(Value v);

} // namespace mlir::quantx

#endif // QUANTX_LIB_DIALECT_QUANTX_TRANSFORMS_LAYERS_H
