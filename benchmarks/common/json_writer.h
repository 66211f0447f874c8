// A minimal streaming JSON writer (objects, lists, scalars) into a string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mrdperf {

class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginList();
  void EndList();
  // Inside an object: the key of the next value.
  void Key(const char* key);
  void String(const std::string& value);
  void Int(int64_t value);
  void Size(size_t value);
  void Double(double value);  // non-finite values become strings, as nccl-tests
  void Bool(bool value);
  void Null();

  const std::string& text() const { return out_; }

 private:
  void BeforeValue();
  void AppendQuoted(const std::string& value);

  std::string out_;
  // One entry per open container: whether it already holds an element.
  std::vector<bool> nonempty_;
  bool after_key_ = false;
};

}  // namespace mrdperf
