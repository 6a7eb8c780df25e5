# The disk tier (docs/disk.md): slot store, I/O engines (io_uring, threads), ceiling measurement,
# the block manager's DiskIndex over a store.
list(APPEND KVTIER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/disk_future.cpp
  ${CMAKE_CURRENT_LIST_DIR}/checksum.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slot_header.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/directory.cpp
  ${CMAKE_CURRENT_LIST_DIR}/io_engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/thread_engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/uring_engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/disk_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/store_open.cpp
  ${CMAKE_CURRENT_LIST_DIR}/store_scan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/store_write.cpp
  ${CMAKE_CURRENT_LIST_DIR}/store_read.cpp
  ${CMAKE_CURRENT_LIST_DIR}/store_read_layers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/disk_block_index.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ceiling.cpp)
