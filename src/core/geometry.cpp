#include "kvtier/core/geometry.h"

#include <cstdint>
#include <sstream>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

void require_positive(const char* field, int v, int max) {
  if (v <= 0 || v > max) {
    throw InvalidArgument(std::string("geometry: ") + field + " = " + std::to_string(v) +
                          "; expected an integer in [1, " + std::to_string(max) + "]");
  }
}

}  // namespace

void Geometry::validate() const {
  require_positive("layers", layers, 1024);
  require_positive("q_heads", q_heads, 1024);
  require_positive("kv_heads", kv_heads, 1024);
  require_positive("head_dim", head_dim, 1024);
  require_positive("block_tokens", block_tokens, 4096);
  if (q_heads % kv_heads != 0) {
    throw InvalidArgument("geometry: q_heads = " + std::to_string(q_heads) +
                          " is not a multiple of kv_heads = " + std::to_string(kv_heads));
  }
  if ((head_dim * static_cast<int>(elem_bytes())) % 16 != 0) {
    throw InvalidArgument("geometry: head_dim = " + std::to_string(head_dim) + " in " +
                          dtype_name(dtype) + " is not a multiple of 16 bytes");
  }
}

std::size_t Geometry::head_bytes() const {
  return static_cast<std::size_t>(block_tokens) * head_dim * elem_bytes();
}
std::size_t Geometry::layer_bytes() const { return 2 * static_cast<std::size_t>(kv_heads) * head_bytes(); }
std::size_t Geometry::slot_bytes() const { return static_cast<std::size_t>(layers) * layer_bytes(); }
std::size_t Geometry::token_bytes() const {
  return 2 * static_cast<std::size_t>(layers) * kv_heads * head_dim * elem_bytes();
}

std::size_t Geometry::offset(int layer, int kv, int kv_head, int token) const {
  return static_cast<std::size_t>(layer) * layer_bytes() +
         (static_cast<std::size_t>(kv) * kv_heads + kv_head) * head_bytes() +
         static_cast<std::size_t>(token) * head_dim * elem_bytes();
}

Hash128 Geometry::fingerprint() const {
  const std::int64_t fields[] = {layers, q_heads, kv_heads, head_dim,
                                 static_cast<std::int64_t>(dtype), block_tokens};
  Hash128 h = hash128(fields, sizeof fields, Hash128{0x6b76746965720001ull, 0});
  return hash128(name.data(), name.size(), h);
}

std::string Geometry::describe() const {
  std::ostringstream os;
  os << name << ": " << layers << " layers, " << q_heads << " q / " << kv_heads << " kv heads, head dim "
     << head_dim << ", " << dtype_name(dtype) << ", " << block_tokens << " tokens a block";
  return os.str();
}

namespace {

struct PresetRow {
  const char* name;
  int layers, q_heads, kv_heads, head_dim;
  DType dtype;
};

constexpr PresetRow kPresets[] = {
    {"llama-3.1-8b", 32, 32, 8, 128, DType::kBF16},
    {"llama-3.1-70b", 80, 64, 8, 128, DType::kBF16},
    {"mistral-7b", 32, 32, 8, 128, DType::kBF16},
    {"qwen2.5-7b", 28, 28, 4, 128, DType::kBF16},
    {"smollm2-135m", 30, 9, 3, 64, DType::kBF16},
    {"tiny", 2, 4, 2, 64, DType::kBF16},  // for tests: small enough for CI, real head dim
};

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& p : kPresets) out.emplace_back(p.name);
  return out;
}

Geometry preset(std::string_view name) {
  for (const auto& p : kPresets) {
    if (name == p.name) {
      Geometry g;
      g.name = p.name;
      g.layers = p.layers;
      g.q_heads = p.q_heads;
      g.kv_heads = p.kv_heads;
      g.head_dim = p.head_dim;
      g.dtype = p.dtype;
      return g;
    }
  }
  std::string known;
  for (const auto& p : kPresets) known += std::string(known.empty() ? "" : ", ") + p.name;
  throw InvalidArgument("unknown preset '" + std::string(name) + "'; known presets: " + known);
}

}  // namespace kvtier
