#===- AddQuantX.cmake - Project-prefixed wrappers over AddMLIR ----------===#
#
# Debian's MLIR is one libMLIR.so. Every MLIR dependency must be linked
# through mlir_target_link_libraries (never LINK_LIBS) or a process ends up
# with two copies of MLIR. These wrappers keep that rule in one place.
#
#===----------------------------------------------------------------------===#

# add_quantx_library(name sources... [DEPENDS tablegen-targets...]
#                    [MLIR_LIBS MLIRFoo...] [LINK_LIBS quantx-libs...])
function(add_quantx_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;MLIR_LIBS;LINK_LIBS" ${ARGN})
  add_mlir_library(${name} ${ARG_UNPARSED_ARGUMENTS}
    DEPENDS ${ARG_DEPENDS}
    LINK_LIBS PUBLIC ${ARG_LINK_LIBS})
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
endfunction()
