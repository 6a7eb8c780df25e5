list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/backend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_pages.cpp
  ${CMAKE_CURRENT_LIST_DIR}/thread_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/cpu_backend.cpp)
if(KVTIER_WITH_CUDA)
  list(APPEND KVTIER_CUDA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/cuda/cuda_backend.cpp)
else()
  list(APPEND KVTIER_SOURCES ${CMAKE_CURRENT_LIST_DIR}/no_cuda.cpp)
endif()
