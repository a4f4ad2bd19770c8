#include "fault/hostile_rows.h"

#include <vector>

namespace outbox::fault {
namespace {

// ~100 kB that compresses poorly, different for each n: no B-tree entry can
// hold it (a 100 kB key once halted every key).
std::string Huge(int64_t n) {
  std::string text;
  uint64_t x = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(n);
  while (text.size() < 100000) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    text.push_back(static_cast<char>('a' + x % 26));
  }
  return text;
}

}  // namespace

HostileRow MakeHostileRow(int64_t n) {
  const std::string own_key = "hostile-" + std::to_string(n);
  HostileRow row;
  row.key = own_key;
  row.payload = own_key + ":payload";
  switch (n % 14) {
    case 0:
      row.what = "payload past message.max.bytes";
      row.payload = std::string(40000, 'p');
      break;
    case 1:
      row.what = "100 kB key";
      row.key = Huge(n);
      break;
    case 2:
      row.what = "100 kB topic";
      row.topic = Huge(n);
      break;
    case 3:
      row.what = "topic with invalid characters";
      row.topic = "bad topic/../\xc3\xa9";
      break;
    case 4:
      row.what = "empty topic";
      row.topic = "";
      break;
    case 5:
      row.what = "headers an array";
      row.headers = "[1]";
      break;
    case 6:
      row.what = "headers a number";
      row.headers = "5";
      break;
    case 7:
      row.what = "nested header value";
      row.headers = R"({"a": {"b": "c"}})";
      break;
    case 8:
      row.what = "forged outbox-id header";
      row.headers = R"({"outbox-id": "1"})";
      break;
    case 9:
      row.what = "forged Outbox-Seq header (other case)";
      row.headers = R"({"Outbox-Seq": "7"})";
      break;
    case 10:
      row.what = "empty header name";
      row.headers = R"({"": "x"})";
      break;
    case 11:
      row.what = "100 kB header value";
      row.headers = "{\"big\": \"" + Huge(n) + "\"}";
      break;
    case 12:
      row.what = "payload that is not UTF-8 (published as bytes)";
      row.payload = std::string("\xff\xfe\x00\x80\xc3(", 6);
      row.dead_letter = false;
      break;
    case 13:
      row.what = "keyless row (published)";
      row.key.reset();
      row.dead_letter = false;
      break;
  }
  return row;
}

}  // namespace outbox::fault
