#pragma once
#include <stdexcept>
#include <string>

namespace hooklab {

// Every problem the engine reports to a user (bad file, bad prompt, bad intervention)
// is one of these; the message is meant to be shown as it is.
struct Error : std::runtime_error {
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace hooklab
