#include "kvtier/block/tier.h"

namespace kvtier {

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::kGpu:
      return "gpu";
    case Tier::kHost:
      return "host";
    case Tier::kDisk:
      return "disk";
  }
  return "?";
}

}  // namespace kvtier
