list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/batch_plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hazards.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_load.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pool_view.cpp
  ${CMAKE_CURRENT_LIST_DIR}/segments.cpp
  ${CMAKE_CURRENT_LIST_DIR}/staging_ring.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transfer_config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transfer_engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transfer_event.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu/cpu_copier.cpp)
if(KVTIER_WITH_CUDA)
  list(APPEND KVTIER_CUDA_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cuda/cuda_copier.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cuda/copy_kernel.cu)
else()
  list(APPEND KVTIER_SOURCES ${CMAKE_CURRENT_LIST_DIR}/no_cuda.cpp)
endif()
