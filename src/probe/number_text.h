// Decimal text of a double with a fixed number of decimals, independent of
// the process locale (a host program may set one with a decimal comma, which
// would break JSON and make log lines differ between processes).
#pragma once

#include <charconv>
#include <cmath>
#include <string>

namespace mrd::probe {

inline void appendFixed(std::string* out, double v, int decimals) {
  if (!std::isfinite(v)) v = 0;  // JSON has no NaN or infinity
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
  if (r.ec == std::errc()) {
    out->append(buf, r.ptr);
  } else {
    out->append("0");  // beyond 1e60: not a value this module produces
  }
}

inline std::string fixedText(double v, int decimals) {
  std::string s;
  appendFixed(&s, v, decimals);
  return s;
}

}  // namespace mrd::probe
