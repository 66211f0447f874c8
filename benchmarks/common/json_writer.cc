#include "common/json_writer.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace mrdperf {

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!nonempty_.empty()) {
    if (nonempty_.back()) out_ += ',';
    nonempty_.back() = true;
  }
}

void JsonWriter::BeginObject() {
  BeforeValue();
  out_ += '{';
  nonempty_.push_back(false);
}

void JsonWriter::EndObject() {
  nonempty_.pop_back();
  out_ += '}';
}

void JsonWriter::BeginList() {
  BeforeValue();
  out_ += '[';
  nonempty_.push_back(false);
}

void JsonWriter::EndList() {
  nonempty_.pop_back();
  out_ += ']';
}

void JsonWriter::Key(const char* key) {
  BeforeValue();
  AppendQuoted(key);
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::String(const std::string& value) {
  BeforeValue();
  AppendQuoted(value);
}

void JsonWriter::AppendQuoted(const std::string& value) {
  out_ += '"';
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out_ += buf;
        } else {
          out_ += static_cast<char>(c);
        }
    }
  }
  out_ += '"';
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  out_ += std::to_string(value);
}

void JsonWriter::Size(size_t value) {
  BeforeValue();
  out_ += std::to_string(value);
}

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) {
    String(std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"));
    return;
  }
  BeforeValue();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  out_ += buf;
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
}

void JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
}

}  // namespace mrdperf
