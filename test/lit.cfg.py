# -*- Python -*-
# lit configuration of the QuantX test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANTX"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quantx_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%quantx_src_root", config.quantx_src_root))
# Named captures must not leak between CHECK-LABEL blocks.
config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.quantx_tools_dir, config.llvm_tools_dir]
tools = ["quantx-opt", "quantx-translate", "mlir-opt", "not", "count"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Execution tests: JIT-run LLVM-dialect modules with upstream's runner and
# its printing utilities.
llvm_config.add_tool_substitutions(["mlir-runner"], tool_dirs)
config.substitutions.append(
    ("%mlir_runner_utils", os.path.join(config.llvm_tools_dir, "..", "lib", "libmlir_runner_utils.so")))
config.substitutions.append(
    ("%mlir_c_runner_utils", os.path.join(config.llvm_tools_dir, "..", "lib", "libmlir_c_runner_utils.so")))
config.substitutions.append(("%llvm_lib_dir", os.path.join(config.llvm_tools_dir, "..", "lib")))
llvm_config.add_tool_substitutions(["quantx-run"], tool_dirs)
# The OpenMP runtime the threaded kernels call (mlir-runner -shared-libs).
config.substitutions.append(("%openmp_lib", config.openmp_library))
if config.openmp_library and "NOTFOUND" not in config.openmp_library:
    config.available_features.add("openmp")
# Lowering to assembly for target features this machine may lack.
llvm_config.add_tool_substitutions(["mlir-translate", "llc", "llvm-objdump"], tool_dirs)
config.substitutions.append(("%python", config.python_executable))

# Ahead-of-time tests compile C programs against emitted objects with the
# clang of the LLVM installation.
# The runtime of compiled code (buffer allocation), for ahead-of-time links.
config.substitutions.append(("%quantx_lib_dir", os.path.join(config.quantx_obj_root, "lib")))
config.substitutions.append(("%quantx_cpu_runtime", os.path.join(config.quantx_obj_root, "lib", "libquantx_cpu_runtime.so")))
config.substitutions.append(("%clang", os.path.join(config.llvm_tools_dir, "clang")))
