// A small CNN in the form the PyTorch importer emits: a padded conv with
// bias and ReLU, max pooling, a flatten and a Linear layer (weights from
// make_cnn.py).
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch4 = affine_map<(d0, d1, d2, d3) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @main(%x: tensor<2x1x6x6xf32>) -> tensor<2x4xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %w1 = arith.constant dense<[[[[ 0.05029209 , -0.052841946,  0.25616905 ],
   [ 0.041960046, -0.21426775 ,  0.14463802 ],
   [ 0.5216     ,  0.3788324  , -0.28149408 ]]],


 [[[-0.5061686  , -0.24930978 ,  0.01653039 ],
   [-0.9300123  , -0.087516665, -0.4983644  ],
   [-0.29290694 , -0.2177036  , -0.12652007 ]]]]> : tensor<2x1x3x3xf32>
  %b1 = arith.constant dense<[0.041163053, 0.10425134 ]> : tensor<2xf32>
  %w2 = arith.constant dense<[[-0.038560398,  0.40993905 , -0.1995584  ,  0.10545302 ,  0.27104107 ,  0.028203689, -0.22304977 , -0.2765176  , -0.13731775 ,  0.06605854 , -0.30288544 , -0.06275267 , -0.0477675  ,  0.16225368 ,  0.06439774 ,  0.10661181 , -0.19614859 , -0.03888409 ],
 [ 0.23519264 ,  0.44802934 , -0.37771967 ,  0.45417714 ,  0.40376264 ,  0.23439342 ,  0.07933669 , -0.094176844,  0.4374062  ,  0.5880775  ,  0.54049045 ,  0.39453113 ,  0.10721412 , -0.3624956  , -0.00133624 ,  0.19694248 , -0.38650844 ,  0.11853662 ],
 [ 0.1289591  ,  0.20881282 , -0.3552354  , -0.19851077 , -0.13093057 , -0.3509406  ,  0.52181035 , -0.14877322 ,  0.09869089 , -0.077571765,  0.47504187 ,  0.3961083  ,  0.1900058  , -0.66105294 ,  0.015608693,  0.20510586 ,  0.30118847 , -0.18537211 ],
 [ 0.5466034  , -0.39612928 , -0.1984584  ,  0.280515   ,  0.014716384,  0.6007178  ,  0.05655576 , -0.18995823 , -0.11326905 , -0.32734382 , -0.38330406 ,  0.18912345 ,  0.17434974 ,  0.38836765 , -0.22638173 ,  0.5067322  , -0.086216316,  0.4723225  ]]> : tensor<4x18xf32>
  %b2 = arith.constant dense<[-0.043278586, -0.07354833 ,  0.024978537,  0.10314531 ]> : tensor<4xf32>
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x1x6x6xf32> to tensor<2x1x8x8xf32>
  %e1 = tensor.empty() : tensor<2x2x6x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x2x6x6xf32>) -> tensor<2x2x6x6xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%p, %w1 : tensor<2x1x8x8xf32>, tensor<2x1x3x3xf32>) outs(%f1 : tensor<2x2x6x6xf32>) -> tensor<2x2x6x6xf32> loc("features.0")
  %cb = linalg.generic {indexing_maps = [#id4, #ch4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
         ins(%c, %b1 : tensor<2x2x6x6xf32>, tensor<2xf32>) outs(%e1 : tensor<2x2x6x6xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x2x6x6xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
         ins(%cb : tensor<2x2x6x6xf32>) outs(%e1 : tensor<2x2x6x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x2x6x6xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %e2 = tensor.empty() : tensor<2x2x3x3xf32>
  %f2 = linalg.fill ins(%ninf : f32) outs(%e2 : tensor<2x2x3x3xf32>) -> tensor<2x2x3x3xf32>
  %mp = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
         ins(%r, %win : tensor<2x2x6x6xf32>, tensor<2x2xf32>) outs(%f2 : tensor<2x2x3x3xf32>) -> tensor<2x2x3x3xf32>
  %fl = tensor.collapse_shape %mp [[0], [1, 2, 3]] : tensor<2x2x3x3xf32> into tensor<2x18xf32>
  %e3 = tensor.empty() : tensor<2x4xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %mm = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%fl, %w2 : tensor<2x18xf32>, tensor<4x18xf32>) outs(%f3 : tensor<2x4xf32>) -> tensor<2x4xf32> loc("classifier")
  %y = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]}
         ins(%mm, %b2 : tensor<2x4xf32>, tensor<4xf32>) outs(%e3 : tensor<2x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
