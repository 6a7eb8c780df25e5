#include <gtest/gtest.h>

#include "kvtier/core/error.h"
#include "kvtier/core/geometry.h"

namespace kvtier {
namespace {

TEST(Geometry, Llama8bSizesMatchDesign) {
  Geometry g = preset("llama-3.1-8b");
  g.validate();
  EXPECT_EQ(g.layer_bytes(), 64u << 10);  // 64 KiB a layer
  EXPECT_EQ(g.slot_bytes(), 2u << 20);    // 2 MiB a slot
  EXPECT_EQ(g.token_bytes(), 128u << 10);
  EXPECT_EQ(g.group_size(), 4);
}

TEST(Geometry, LayoutIsLayerKvHeadTokenDim) {
  Geometry g = preset("tiny");
  const std::size_t e = g.elem_bytes();
  EXPECT_EQ(g.offset(0, 0, 0, 0), 0u);
  EXPECT_EQ(g.offset(0, 0, 0, 1), g.head_dim * e);
  EXPECT_EQ(g.offset(0, 0, 1, 0), g.block_tokens * g.head_dim * e);
  EXPECT_EQ(g.offset(0, 1, 0, 0), g.kv_heads * g.head_bytes());
  EXPECT_EQ(g.offset(1, 0, 0, 0), g.layer_bytes());
  EXPECT_EQ(g.offset(g.layers - 1, 1, g.kv_heads - 1, g.block_tokens - 1) + g.head_dim * e, g.slot_bytes());
}

TEST(Geometry, EveryPresetIsValidAndDistinct) {
  const auto names = preset_names();
  ASSERT_GE(names.size(), 6u);
  for (const auto& a : names) {
    preset(a).validate();
    for (const auto& b : names) {
      if (a != b) {
        EXPECT_NE(preset(a).fingerprint(), preset(b).fingerprint()) << a << " vs " << b;
      }
    }
  }
}

TEST(Geometry, FingerprintDependsOnEveryField) {
  const Geometry base = preset("llama-3.1-8b");
  auto differs = [&](auto mutate) {
    Geometry g = base;
    mutate(g);
    return g.fingerprint() != base.fingerprint();
  };
  EXPECT_TRUE(differs([](Geometry& g) { g.layers = 31; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.q_heads = 16; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.kv_heads = 4; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.head_dim = 64; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.dtype = DType::kF16; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.block_tokens = 64; }));
  EXPECT_TRUE(differs([](Geometry& g) { g.name = "mistral-7b"; }));
}

TEST(Geometry, RejectsBadValuesWithClearErrors) {
  EXPECT_THROW(preset("llama-9"), InvalidArgument);
  try {
    preset("llama-9");
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("llama-3.1-8b"), std::string::npos);
  }
  Geometry g = preset("tiny");
  g.q_heads = 3;
  EXPECT_THROW(g.validate(), InvalidArgument);
  g = preset("tiny");
  g.block_tokens = 0;
  EXPECT_THROW(g.validate(), InvalidArgument);
  g = preset("tiny");
  g.layers = -2;
  EXPECT_THROW(g.validate(), InvalidArgument);
  EXPECT_THROW(parse_dtype("int7"), InvalidArgument);
}

}  // namespace
}  // namespace kvtier
