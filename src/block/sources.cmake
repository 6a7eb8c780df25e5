list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/tier.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slot_allocator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slot_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eviction_policy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/block_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/block_placement.cpp
  ${CMAKE_CURRENT_LIST_DIR}/block_manager.cpp)
