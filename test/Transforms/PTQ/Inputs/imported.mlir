module {
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
      %c2 = arith.constant 0.0 : f32
      %p1 = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
      ^bb0(%pi3: index, %pi4: index, %pi5: index, %pi6: index):
        tensor.yield %c2 : f32
      } : tensor<1x1x4x4xf32> to tensor<1x1x6x6xf32>
      %cst7 = arith.constant dense_resource<conv_weight> : tensor<2x1x3x3xf32>
      %e8 = tensor.empty() : tensor<1x2x4x4xf32>
      %c9 = arith.constant 0.0 : f32
      %f10 = linalg.fill ins(%c9 : f32) outs(%e8 : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
      %n11 = linalg.conv_2d_nchw_fchw {dilations = dense<[1, 1]> : tensor<2xi64>, strides = dense<[1, 1]> : tensor<2xi64>} ins(%p1, %cst7 : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>) outs(%f10 : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
      %cst12 = arith.constant dense_resource<conv_bias> : tensor<2x1x1xf32>
      %r13 = tensor.collapse_shape %cst12 [[0, 1, 2]] : tensor<2x1x1xf32> into tensor<2xf32>
      %e14 = tensor.empty() : tensor<1x2x4x4xf32>
      %g19 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d1)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%n11, %r13 : tensor<1x2x4x4xf32>, tensor<2xf32>) outs(%e14 : tensor<1x2x4x4xf32>) {
      ^bb0(%a15: f32, %a16: f32, %o17: f32):
        %b18 = arith.addf %a15, %a16 : f32
        linalg.yield %b18 : f32
      } -> tensor<1x2x4x4xf32>
      %e20 = tensor.empty() : tensor<1x2x4x4xf32>
      %g25 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%g19 : tensor<1x2x4x4xf32>) outs(%e20 : tensor<1x2x4x4xf32>) {
      ^bb0(%a21: f32, %o22: f32):
        %z23 = arith.constant 0.0 : f32
        %m24 = arith.maximumf %a21, %z23 : f32
        linalg.yield %m24 : f32
      } -> tensor<1x2x4x4xf32>
      %r26 = tensor.collapse_shape %g25 [[0, 1, 2, 3]] : tensor<1x2x4x4xf32> into tensor<32xf32>
      %r27 = tensor.expand_shape %r26 [[0, 1]] output_shape [1, 32] : tensor<32xf32> into tensor<1x32xf32>
      %cst28 = arith.constant dense_resource<fc_weight_t> : tensor<32x3xf32>
      %e29 = tensor.empty() : tensor<1x3xf32>
      %c30 = arith.constant 0.0 : f32
      %f31 = linalg.fill ins(%c30 : f32) outs(%e29 : tensor<1x3xf32>) -> tensor<1x3xf32>
      %n32 = linalg.matmul ins(%r27, %cst28 : tensor<1x32xf32>, tensor<32x3xf32>) outs(%f31 : tensor<1x3xf32>) -> tensor<1x3xf32>
      %cst33 = arith.constant dense_resource<fc_bias> : tensor<3xf32>
      %e34 = tensor.empty() : tensor<1x3xf32>
      %g39 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%n32, %cst33 : tensor<1x3xf32>, tensor<3xf32>) outs(%e34 : tensor<1x3xf32>) {
      ^bb0(%a35: f32, %a36: f32, %o37: f32):
        %b38 = arith.addf %a35, %a36 : f32
        linalg.yield %b38 : f32
      } -> tensor<1x3xf32>
      return %g39 : tensor<1x3xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      conv_weight: "0x04000000568D23BB281B373E64778CBE56337BBE4E7703BEE60FB73DAB69D8BBDF51873E9654F2BC66A4B43D904FCEBD4B3086BDD00BA3BE180F62BE9BB40CBEAB4E4A3CEBF0063ECBCE4C3E",
      conv_bias: "0x04000000666767BE53A314BE",
      fc_weight_t: "0x04000000A77F833DCBAF8F3DEC86073DF750163EA6A2C33CC6F4F3BCE70315BDF2BDF23D5C4FEEBC7A75073E522BD5BDC7B9A5BD1E6BE9BC70ED063D65398B3D353C993C65580CBED06FD6BDA1E8233E8AECFABD61B8843D20ED27BEF205BBBDFD15B73DC5EAE3BD10D0A33D2B96013EAC4F37BDFD98913DCB5E873D661F8DBD5B74D6BD452933BE9E661C3EB8BF5A3D76DAEABD85AAEABDC5BFC63D77C5B43D86A8A6BD43C8B6BCE58C173D53EFFCBDCF2BDD3BD5350DBE208929BEAAC5273D0B78D0BD2D56D3BDAE99E03D374B2A3E979A1B3E4ED02D3EB8F2F33D5E8CA13D6D7F0BBEA3DB9DBD5F78AF3D1CAD84BD3F3D36BD4952183CE7488E3D4D702CBE7B9CB9BDC4FB153E123C50BB6E01F53C3C861D3E775108BE4D0429BE40B91F3E67A10BBE68CC02BE171A103DE4951FBC4CA4BABD49691DBEEA6ED93C876CE43D2838853C0B4494BD5D45D43D4B7EE2BD5DD3D63DF68FA0BDA4B328BE8F50DCBDF202D1BB96D5203E6440243EB38BE73DCBA3093EE51AF83D12F5333E649234BE88A618BE",
      fc_bias: "0x04000000253634BD67B0023C8F49D33C"
    }
  }
#-}
