list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/validate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reference.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/merge_cpu.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/decode_cpu.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/kernel_portable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/kernel_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/kernel_avx512.cpp)
if(KVTIER_WITH_CUDA)
  list(APPEND KVTIER_CUDA_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cuda/decode.cu
    ${CMAKE_CURRENT_LIST_DIR}/cuda/merge.cu
    ${CMAKE_CURRENT_LIST_DIR}/cuda/read_probe.cu)
else()
  list(APPEND KVTIER_SOURCES ${CMAKE_CURRENT_LIST_DIR}/no_cuda.cpp)
endif()
