// A TFLite-style int8 layer written with upstream `quant` types: per-tensor
// asymmetric activations, per-channel symmetric weights.
!act = !quant.uniform<i8:f32, 0.0235:-3>
!w = !quant.uniform<i8<-127:127>:f32:0, {0.011, 0.027, 0.009, 0.02}>
func.func @layer(%x: tensor<2x8xf32>, %w: tensor<4x8x!w>) -> (tensor<2x8xf32>, tensor<4x8xi8>) {
  %q = quant.qcast %x : tensor<2x8xf32> to tensor<2x8x!act>
  %d = quant.dcast %q : tensor<2x8x!act> to tensor<2x8xf32>
  %i = quant.scast %w : tensor<4x8x!w> to tensor<4x8xi8>
  return %d, %i : tensor<2x8xf32>, tensor<4x8xi8>
}
