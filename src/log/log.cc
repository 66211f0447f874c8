#include "log/log.h"

#include <unistd.h>

#include <array>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "config/params.h"

namespace mrd::log {
namespace {

thread_local int tlsRank = -1;

constexpr std::array<const char*, static_cast<size_t>(Subsys::kCount)> kNames = {
    "INIT", "BOOTSTRAP", "NET", "SHM", "COLL", "TUNE", "PROBE"};

// "%R" in the pattern: the rank of the communicator this thread works for.
class RankFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string r = tlsRank >= 0 ? std::to_string(tlsRank) : std::string("-");
    dest.append(r.data(), r.data() + r.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RankFlag>();
  }
};

spdlog::level::level_enum parseLevel(const std::string& s) {
  std::string u;
  for (char c : s) u += static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (u == "TRACE") return spdlog::level::trace;
  if (u == "DEBUG") return spdlog::level::debug;
  if (u == "INFO") return spdlog::level::info;
  if (u == "VERSION") return spdlog::level::info;
  if (u == "ERROR") return spdlog::level::err;
  if (u == "NONE" || u == "OFF") return spdlog::level::off;
  return spdlog::level::warn;
}

// MRD_DEBUG_SUBSYS: "INIT,NET" keeps those; "^NET" drops NET; empty or ALL: every one.
bool subsysEnabled(const std::string& list, const char* name) {
  if (list.empty()) return true;
  bool exclusive = list[0] == '^';
  std::stringstream ss(exclusive ? list.substr(1) : list);
  std::string item;
  bool listed = false;
  while (std::getline(ss, item, ',')) {
    if (item == name || item == "ALL") listed = true;
  }
  return exclusive ? !listed : listed;
}

struct Loggers {
  std::array<std::shared_ptr<spdlog::logger>, static_cast<size_t>(Subsys::kCount)> all;
  std::once_flag built;
};

Loggers& loggers() {
  static Loggers l;
  return l;
}

void build(Loggers& l) {
  const config::Params& p = config::processParams();
  spdlog::sink_ptr sink;
  if (!p.debugFile.empty()) {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(expandPath(p.debugFile));
    } catch (const spdlog::spdlog_ex&) {
      sink = nullptr;
    }
  }
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  auto level = parseLevel(p.debug);
  // The formatter belongs to the shared sink; the subsystem is the logger's name (%n).
  auto fmt = std::make_unique<spdlog::pattern_formatter>();
  fmt->add_flag<RankFlag>('R');
  fmt->set_pattern(std::string(host) + ":%P:%R [MRD %n] %l: %v");
  sink->set_formatter(std::move(fmt));
  for (size_t i = 0; i < kNames.size(); ++i) {
    auto logger = std::make_shared<spdlog::logger>(kNames[i], sink);
    logger->set_level(subsysEnabled(p.debugSubsys, kNames[i]) ? level : spdlog::level::off);
    logger->flush_on(spdlog::level::warn);
    l.all[i] = logger;
  }
}

}  // namespace

std::string expandPath(std::string path) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  for (size_t pos; (pos = path.find("%h")) != std::string::npos;) path.replace(pos, 2, host);
  for (size_t pos; (pos = path.find("%p")) != std::string::npos;)
    path.replace(pos, 2, std::to_string(getpid()));
  return path;
}

spdlog::logger& get(Subsys s) {
  Loggers& l = loggers();
  std::call_once(l.built, [&l] { build(l); });
  return *l.all[static_cast<size_t>(s)];
}

void setThreadRank(int rank) { tlsRank = rank; }
int threadRank() { return tlsRank; }

}  // namespace mrd::log
