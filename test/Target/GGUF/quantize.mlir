// Float tensors requantized on the way out: per tensor with quantx.gguf.type,
// and by default with --gguf-type for rank >= 2 tensors whose innermost
// dimension is a multiple of the block size. The added error is reported
// per tensor on stderr.
// RUN: quantx-translate --quantx-to-gguf --gguf-type=q8_0 %s -o %t.gguf 2> %t.err
// RUN: FileCheck %s --check-prefix=ERR --input-file=%t.err
// RUN: quantx-translate --gguf-dump %t.gguf | FileCheck %s
// Requantized output survives import and re-emission byte for byte.
// RUN: quantx-translate --gguf-to-quantx %t.gguf -o %t.mlir
// RUN: quantx-translate --quantx-to-gguf %t.mlir -o %t.again.gguf 2> %t.again.err
// RUN: cmp %t.gguf %t.again.gguf
// Nothing is requantized the second time.
// RUN: count 0 < %t.again.err

module attributes {quantx.gguf.metadata = {general.architecture = "llama"}} {
  // Rank 2, 32 columns: takes the default q8_0.
  %0 = arith.constant {quantx.gguf.name = "blk.0.attn_q.weight"} dense<[[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, -3.1]]> : tensor<1x32xf32>
  // An explicit type wins over the default (f16 source).
  %1 = arith.constant {quantx.gguf.name = "blk.0.attn_k.weight", quantx.gguf.type = #quantx.gguf<q4_0>} dense<[[1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 2.0, -2.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 2.0, -2.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 2.0, -2.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 2.0, -7.0]]> : tensor<1x32xf16>
  // A K-quant from a 1x256 resource (sin(0.37 i) * (1 + i mod 7)).
  %2 = arith.constant {quantx.gguf.name = "blk.0.ffn_up.weight", quantx.gguf.type = #quantx.gguf<q4_k>} dense_resource<up> : tensor<1x256xf32>
  // Rank 1 stays f32 (norms are not quantized by default).
  %3 = arith.constant {quantx.gguf.name = "blk.0.attn_norm.weight"} dense<1.0> : tensor<32xf32>
  // 48 columns are not a multiple of 32: stays bf16.
  %4 = arith.constant {quantx.gguf.name = "odd.weight"} dense<1.0> : tensor<2x48xbf16>
  // A float tensor can also be narrowed to f16 explicitly.
  %5 = arith.constant {quantx.gguf.name = "to_f16.weight", quantx.gguf.type = #quantx.gguf<f16>} dense<[1.0, 65536.0, 3.0e-8]> : tensor<3xf32>
}

{-#
  dialect_resources: {
    builtin: {
      up: "0x0400000000000000A825393F99760140824C654048579F409990B840406EB240C527063F3AEEB83EA1D70FBF57A307C0501B80C0D0EBB8C008EFDEC08F8464BF4E53ABBFD96A88BF584DDF3CA67EEB3F2F6D8240844FC94007197F3F9799F53F612518409BAA04401B945E3FE1FA94BF46F36FC0D8024EBF6F06F7BF40F43EC0E4B963C00C8854C0D4F705C08462C33DBEA2BF3E9F2DAF3F2B1F2D40F93C7F40543099402A589740C18C6540D32F2B3E247BCDBE71E0CFBFBE0A4FC05DAC9AC033D0BEC0F48EC6C08DB728BF9F592FBF08337B3DE3DDC23FCF8E5C40FAAEAD402672DF40C097743FDEB6C83F5681C23F884D243F00B284BF771252C0280EB6C0FDEA77BFD837FEBF559529C0A86627C0BB15D7BF0875273EE0532D40C7B4313FF650E83FD29C3F407712744095887940923E40401FBC893F56225BBE53818DBF5BCE1CC0D95878C015C19EC043F7A8C04D5191C01BC7A8BEB4898B3DE4F9963F31F53240FFA69140F3B0BF40FF18D540B087463FB04C7D3FBFC4E13E11F261BFD3B132C0B78E9DC049ABD9C099C87DBF3E74E0BF5F1EF7BFD27AA5BFFE49513EF36019400CAD9D40A7C2693F66AEFF3F663F36408C6C4540D7691C40E168573F38A7CBBF4B6610BF9911D3BFC7E03AC0738C7DC096C18BC0261C75C0FFE60DC01851433DEAB24F3FB913084055776A40F9D99F40ECD4B5402EC5AB403836F73EA3B1883E0AA733BF36D611C02B8884C0852CBBC0A0A3DDC05FC15EBF570FA2BF944A6EBF79315F3E4FCD034037FF884012C4CD40E1D47F3F60E0F13F6F6312408E26F43FFF37223F9DBCB8BFD9DB80C0040655BFB6F2F9BF55C83DC0F5E35DC0D1E148C0794FE9BF4CADDB3EC40ED63E70E1B73F3EE230408EE37F40E8CF9640D48991407EF1524039B3F53D5115FDBE3E09DFBF6FFC55C01A739CC07294BDC06A63C1C00F581FBF653618BF742F513EE438D93FD65C67407663B1404BF1DF400DB6703FA8E8C03FEC7EB23FBCD6E73E4166A2BF3E2961C04412BCC0D6AD7ABFBC7DFCBFEB1825C091F91DC0D518BABF0611E63E61D44040804A3A3F192EED3FD7F93F40981C704065B26F40BA2C30408DB83E3F9B4A85BE608497BF37E921C0ED067BC0979F9DC0F26CA4C00C0689C02B8991BE924A273E05A4A73FB77B3B40F9A4944000FEBF403F90D140E6983E3F3FCB673F3D10993E39A888BF51263FC0489CA2C068F1DBC05BE47BBF0654DABF73D2E8BFF02F8EBF167FE23EB8FD29405E15A54098786E3FD7FFFF3FD72833409C6D3D4066EC0E400BA50E3F6007F5BFB7501ABF8CBCD9BF1EC43CC02C937BC0F4E187C056BC66C0C9F4F2BF3718C33D33C7653F96610E4098196F4091FF9F4057AFB24010B8A440E98CE13EDD4A303ED00D57BF24B41BC0D5A788C03600BDC020D7DBC0717C58BFFD6C98BFAD344BBFA4FBD03E"
    }
  }
#-}

// ERR-DAG: blk.0.attn_q.weight: f32 -> q8_0, rmse {{[0-9.e+-]+}}, max |err| {{[0-9.e+-]+}}, relative rmse {{[0-9.e+-]+}}
// ERR-DAG: blk.0.attn_k.weight: f16 -> q4_0, rmse {{[0-9.e+-]+}}, max |err| {{[0-9.e+-]+}}, relative rmse {{[0-9.e+-]+}}
// ERR-DAG: blk.0.ffn_up.weight: f32 -> q4_K, rmse {{[0-9.e+-]+}}, max |err| {{[0-9.e+-]+}}, relative rmse {{[0-9.e+-]+}}
// 65536 overflows f16 to infinity: the error says so.
// ERR-DAG: to_f16.weight: f32 -> f16, rmse inf, max |err| inf, relative rmse
// ERR-NOT: attn_norm
// ERR-NOT: odd.weight

// CHECK:      metadata 2
// CHECK-NEXT:   general.architecture: str = "llama"
// CHECK-NEXT:   general.quantization_version: u32 = 2
// CHECK-NEXT: tensors 6
// CHECK-NEXT:   0: blk.0.attn_q.weight q8_0 [32, 1] offset 0 size 34
// CHECK-NEXT:   1: blk.0.attn_k.weight q4_0 [32, 1] offset 64 size 18
// CHECK-NEXT:   2: blk.0.ffn_up.weight q4_K [256, 1] offset 96 size 144
// CHECK-NEXT:   3: blk.0.attn_norm.weight f32 [32] offset 256 size 128
// CHECK-NEXT:   4: odd.weight bf16 [48, 2] offset 384 size 192
// CHECK-NEXT:   5: to_f16.weight f16 [3] offset 576 size 6
