list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/split_planner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/step_tables.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attention_runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu_share.cpp
  ${CMAKE_CURRENT_LIST_DIR}/disk_side.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decode_pipeline.cpp)
if(KVTIER_WITH_CUDA)
  list(APPEND KVTIER_CUDA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/cuda/append_kv.cu
                                   ${CMAKE_CURRENT_LIST_DIR}/cuda/store_to_host.cu)
endif()
