// `docker commit --change`: Dockerfile instructions applied to a container Config as dockerd's
// BuildFromConfig applies them, including its messages for what it refuses.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/dockerfile/changes.h"

namespace berth::dockerfile {
namespace {

using json = nlohmann::json;

json applied(json config, const std::vector<std::string>& changes) {
  applyChanges(config, changes);
  return config;
}

json applied(const std::vector<std::string>& changes) { return applied(json::object(), changes); }

// The message of the invalid Error the changes raise, or "" when they apply.
std::string refusal(const std::vector<std::string>& changes, json config = json::object()) {
  try {
    applyChanges(config, changes);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    return e.what();
  }
  return "";
}

json busybox() {
  return {{"Cmd", {"sh"}},
          {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}},
          {"WorkingDir", "/srv"},
          {"Labels", {{"tier", "front"}}}};
}

TEST(CommitChangesTest, NoChangesLeaveTheConfigAsItWas) { EXPECT_EQ(applied(busybox(), {}), busybox()); }

TEST(CommitChangesTest, ShellFormCmdRunsUnderBinShDashC) {
  EXPECT_EQ(applied({"CMD echo  \"hi there\" $HOME"})["Cmd"], json({"/bin/sh", "-c", "echo  \"hi there\" $HOME"}));
}

TEST(CommitChangesTest, JsonFormCmdIsTakenVerbatimWithoutSubstitution) {
  EXPECT_EQ(applied({R"(CMD ["nginx", "-g", "daemon off;", "$HOME"])"})["Cmd"],
            json({"nginx", "-g", "daemon off;", "$HOME"}));
}

TEST(CommitChangesTest, ShellFormUsesTheConfigsShellWhenItHasOne) {
  json config = {{"Shell", {"/bin/bash", "-o", "pipefail", "-c"}}};
  EXPECT_EQ(applied(config, {"CMD make all"})["Cmd"], json({"/bin/bash", "-o", "pipefail", "-c", "make all"}));
}

TEST(CommitChangesTest, MalformedJsonFallsBackToShellForm) {
  EXPECT_EQ(applied({"CMD [echo, hi]"})["Cmd"], json({"/bin/sh", "-c", "[echo, hi]"}));
  EXPECT_EQ(applied({R"(ENTRYPOINT ["a", "b",])"})["Entrypoint"], json({"/bin/sh", "-c", R"(["a", "b",])"}));
  // Each word is then expanded like any VOLUME path, so its quotes go.
  EXPECT_EQ(applied({R"(VOLUME ["/a" /b)"})["Volumes"], json({{"[/a", json::object()}, {"/b", json::object()}}));
}

TEST(CommitChangesTest, JsonArraysOfNonStringsAreRefused) {
  const std::string message = "when using JSON array syntax, arrays must be comprised of strings only";
  EXPECT_EQ(refusal({R"(CMD ["sleep", 10])"}), message);
  EXPECT_EQ(refusal({"ENTRYPOINT [null]"}), message);
  EXPECT_EQ(refusal({"VOLUME [1]"}), message);
  EXPECT_EQ(refusal({R"(HEALTHCHECK CMD ["curl", true])"}), message);
}

TEST(CommitChangesTest, EmptyJsonCmdIsAnEmptyListAndBareCmdIsTheShellAlone) {
  EXPECT_EQ(applied(busybox(), {"CMD []"})["Cmd"], json::array());
  EXPECT_EQ(applied(busybox(), {"CMD"})["Cmd"], json({"/bin/sh", "-c"}));  // dockerd's quirk, kept
}

TEST(CommitChangesTest, EntrypointWithoutCmdResetsCmd) {
  json out = applied(busybox(), {R"(ENTRYPOINT ["/docker-entrypoint.sh"])"});
  EXPECT_EQ(out["Entrypoint"], json({"/docker-entrypoint.sh"}));
  EXPECT_TRUE(out["Cmd"].is_null());
}

TEST(CommitChangesTest, CmdGivenBeforeEntrypointSurvivesIt) {
  json out = applied(busybox(), {R"(CMD ["serve"])", "ENTRYPOINT /app"});
  EXPECT_EQ(out["Cmd"], json({"serve"}));
  EXPECT_EQ(out["Entrypoint"], json({"/bin/sh", "-c", "/app"}));
}

TEST(CommitChangesTest, CmdGivenAfterEntrypointBecomesItsArguments) {
  json out = applied(busybox(), {R"(ENTRYPOINT ["/app"])", R"(CMD ["--port", "80"])"});
  EXPECT_EQ(out["Entrypoint"], json({"/app"}));
  EXPECT_EQ(out["Cmd"], json({"--port", "80"}));
}

TEST(CommitChangesTest, EmptyEntrypointClearsItAndCmd) {
  json config = busybox();
  config["Entrypoint"] = {"/init"};
  for (const char* change : {"ENTRYPOINT []", "ENTRYPOINT"}) {
    json out = applied(config, {change});
    EXPECT_TRUE(out["Entrypoint"].is_null()) << change;
    EXPECT_TRUE(out["Cmd"].is_null()) << change;
  }
}

TEST(CommitChangesTest, CmdAndEntrypointAreRecordedAsNotPreEscaped) {
  json config = {{"ArgsEscaped", true}};
  EXPECT_EQ(applied(config, {"CMD x"})["ArgsEscaped"], false);
  EXPECT_FALSE(applied({"CMD x"}).contains("ArgsEscaped"));
}

TEST(CommitChangesTest, EnvTakesSeveralPairsWithQuotesAndEscapes) {
  json out = applied({R"(ENV A=1 B="two words" C='single $HOME' D=back\ slash E=)"});
  EXPECT_EQ(out["Env"], json({"A=1", "B=two words", "C=single $HOME", "D=back slash", "E="}));
}

TEST(CommitChangesTest, LegacyEnvTakesTheRestOfTheLineAsTheValue) {
  EXPECT_EQ(applied({"ENV GREETING hello   big \"world\""})["Env"], json({"GREETING=hello   big world"}));
}

TEST(CommitChangesTest, EnvReplacesAnExistingVariableInPlace) {
  json out = applied(busybox(), {"ENV HOME=/home/app NEW=1"});
  EXPECT_EQ(out["Env"], json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/app",
                              "NEW=1"}));
}

TEST(CommitChangesTest, EnvSubstitutesFromTheEnvBeforeTheInstruction) {
  json out = applied(busybox(), {"ENV HOME=/home/app WHERE=$HOME", "ENV AFTER=${HOME}/bin"});
  EXPECT_EQ(out["Env"][2], "WHERE=/root");
  EXPECT_EQ(out["Env"][3], "AFTER=/home/app/bin");
}

TEST(CommitChangesTest, SubstitutionSupportsDefaultsAlternativesAndUnsetVariables) {
  json config = {{"Env", {"SET=yes", "EMPTY="}}};
  json out = applied(config, {"LABEL a=${UNSET:-dflt} b=${EMPTY:-dflt} c=${EMPTY-dflt} d=${SET:+alt} "
                              "e=${UNSET:+alt} f=$UNSET. g=${SET}! h=$ i=\"$SET\""});
  EXPECT_EQ(out["Labels"], json({{"a", "dflt"},
                                 {"b", "dflt"},
                                 {"c", ""},
                                 {"d", "alt"},
                                 {"e", ""},
                                 {"f", "."},
                                 {"g", "yes!"},
                                 {"h", "$"},
                                 {"i", "yes"}}));
}

TEST(CommitChangesTest, SingleQuotesAndEscapedDollarsAreNotSubstituted) {
  json out = applied(busybox(), {R"(LABEL a='$HOME' b=\$HOME c="\$HOME")"});
  EXPECT_EQ(out["Labels"]["a"], "$HOME");
  EXPECT_EQ(out["Labels"]["b"], "$HOME");
  EXPECT_EQ(out["Labels"]["c"], "$HOME");
}

TEST(CommitChangesTest, PatternSubstitutionsTrimAndReplace) {
  json config = {{"Env", {"P=/usr/local/bin/app.tar.gz"}}};
  json out = applied(config, {"LABEL a=${P#*/} b=${P##*/} c=${P%.*} d=${P%%.*} e=${P/local/opt} f=${P//a/A}"});
  EXPECT_EQ(out["Labels"], json({{"a", "usr/local/bin/app.tar.gz"},
                                 {"b", "app.tar.gz"},
                                 {"c", "/usr/local/bin/app.tar"},
                                 {"d", "/usr/local/bin/app"},
                                 {"e", "/usr/opt/bin/app.tar.gz"},
                                 {"f", "/usr/locAl/bin/App.tAr.gz"}}));
}

TEST(CommitChangesTest, SubstitutionErrorsNameTheWord) {
  EXPECT_EQ(refusal({"WORKDIR ${DIR:?must be set}"}), "failed to process \"${DIR:?must be set}\": DIR: must be set");
  EXPECT_EQ(refusal({"USER ${NAME"}), "failed to process \"${NAME\": syntax error: missing '}'");
  EXPECT_EQ(refusal({"USER ${}"}), "failed to process \"${}\": syntax error: bad substitution");
  EXPECT_EQ(refusal({"USER \"bob"}),
            "failed to process \"\\\"bob\": unexpected end of statement while looking for matching double-quote");
}

TEST(CommitChangesTest, MalformedEnvAndLabelAreRefused) {
  EXPECT_EQ(refusal({"ENV ALONE"}), "ENV must have two arguments");
  EXPECT_EQ(refusal({"ENV A=1 b"}), "Syntax error - can't find = in \"b\". Must be of the form: name=value");
  EXPECT_EQ(refusal({"ENV =x"}), "ENV names can not be blank");
  EXPECT_EQ(refusal({"ENV"}), "ENV requires at least one argument");
  EXPECT_EQ(refusal({"LABEL"}), "LABEL requires at least one argument");
  EXPECT_EQ(refusal({"LABEL x"}), "LABEL must have two arguments");
}

TEST(CommitChangesTest, LabelSetsQuotedKeysAndValuesAndKeepsOthers) {
  json out = applied(busybox(), {R"(LABEL "com.example.vendor"="ACME Inc" version=1.0)", "LABEL legacy form value"});
  EXPECT_EQ(out["Labels"], json({{"tier", "front"},
                                 {"com.example.vendor", "ACME Inc"},
                                 {"version", "1.0"},
                                 {"legacy", "form value"}}));
}

TEST(CommitChangesTest, ExposeTakesPortsProtocolsAndRanges) {
  json out = applied({"EXPOSE 80 443/tcp 53/UDP 8000-8002/udp 9000/sctp"});
  EXPECT_EQ(out["ExposedPorts"], json({{"80/tcp", json::object()},
                                       {"443/tcp", json::object()},
                                       {"53/udp", json::object()},
                                       {"8000/udp", json::object()},
                                       {"8001/udp", json::object()},
                                       {"8002/udp", json::object()},
                                       {"9000/sctp", json::object()}}));
}

TEST(CommitChangesTest, ExposeSplitsASubstitutedVariableIntoSeveralPorts) {
  json config = {{"Env", {"PORTS=80 443"}}, {"ExposedPorts", {{"22/tcp", json::object()}}}};
  EXPECT_EQ(applied(config, {"EXPOSE $PORTS"})["ExposedPorts"],
            json({{"22/tcp", json::object()}, {"80/tcp", json::object()}, {"443/tcp", json::object()}}));
}

TEST(CommitChangesTest, ExposeRefusesBadPortsAndProtocols) {
  EXPECT_EQ(refusal({"EXPOSE 80/xtp"}), "invalid proto: xtp");
  EXPECT_EQ(refusal({"EXPOSE http"}), "invalid containerPort: http");
  EXPECT_EQ(refusal({"EXPOSE 90-80"}), "invalid containerPort: 90-80");
  EXPECT_EQ(refusal({"EXPOSE 70000"}), "invalid containerPort: 70000");
  EXPECT_EQ(refusal({"EXPOSE"}), "EXPOSE requires at least one argument");
}

TEST(CommitChangesTest, UserAndStopSignalAreSubstituted) {
  json config = {{"Env", {"APP_USER=www-data", "SIG=SIGQUIT"}}};
  json out = applied(config, {"USER ${APP_USER}:staff", "STOPSIGNAL $SIG"});
  EXPECT_EQ(out["User"], "www-data:staff");
  EXPECT_EQ(out["StopSignal"], "SIGQUIT");
}

TEST(CommitChangesTest, StopSignalMustNameASignal) {
  for (const char* ok : {"SIGUSR1", "term", "9", "RTMIN+3", "SIGRTMAX-1"}) {
    EXPECT_EQ(applied({std::string("STOPSIGNAL ") + ok})["StopSignal"], ok);
  }
  EXPECT_EQ(refusal({"STOPSIGNAL SIGFOO"}), "Invalid signal: SIGFOO");
  EXPECT_EQ(refusal({"STOPSIGNAL 0"}), "Invalid signal: 0");
  EXPECT_EQ(refusal({"STOPSIGNAL"}), "STOPSIGNAL requires exactly one argument");
}

TEST(CommitChangesTest, RelativeWorkdirIsResolvedAgainstThePreviousOne) {
  EXPECT_EQ(applied(busybox(), {"WORKDIR app"})["WorkingDir"], "/srv/app");
  EXPECT_EQ(applied({"WORKDIR /a", "WORKDIR b/./c", "WORKDIR ../d"})["WorkingDir"], "/a/b/d");
  EXPECT_EQ(applied({"WORKDIR rel"})["WorkingDir"], "/rel");
}

TEST(CommitChangesTest, AbsoluteWorkdirIsKeptAsWrittenAfterSubstitution) {
  EXPECT_EQ(applied(busybox(), {"WORKDIR $HOME/../x"})["WorkingDir"], "/root/../x");
  EXPECT_EQ(applied(busybox(), {"WORKDIR \"/my dir\""})["WorkingDir"], "/my dir");
  EXPECT_EQ(refusal({"WORKDIR $UNSET"}), "cannot normalize nothing");
}

TEST(CommitChangesTest, VolumeTakesJsonOrSpaceSeparatedPaths) {
  json config = {{"Env", {"DATA=/var/lib/data"}}, {"Volumes", nullptr}};
  json out = applied(config, {R"(VOLUME ["/logs", "/with space"])", "VOLUME /cache $DATA"});
  EXPECT_EQ(out["Volumes"], json({{"/logs", json::object()},
                                  {"/with space", json::object()},
                                  {"/cache", json::object()},
                                  {"/var/lib/data", json::object()}}));
}

TEST(CommitChangesTest, EmptyVolumeIsRefused) {
  EXPECT_EQ(refusal({R"(VOLUME [" "])"}), "VOLUME specified can not be an empty string");
  EXPECT_EQ(refusal({"VOLUME $UNSET"}), "VOLUME specified can not be an empty string");
  EXPECT_EQ(refusal({"VOLUME []"}), "VOLUME requires at least one argument");
}

TEST(CommitChangesTest, OnbuildRecordsTheTriggerAsWritten) {
  json config = {{"OnBuild", nullptr}};
  json out = applied(config, {"ONBUILD RUN echo $HOME", "onbuild COPY . /src"});
  EXPECT_EQ(out["OnBuild"], json({"RUN echo $HOME", "COPY . /src"}));
}

TEST(CommitChangesTest, OnbuildRefusesChainingAndForbiddenTriggers) {
  EXPECT_EQ(refusal({"ONBUILD ONBUILD RUN x"}), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(refusal({"ONBUILD from busybox"}), "FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(refusal({"ONBUILD"}), "ONBUILD requires at least one argument");
  EXPECT_EQ(refusal({"ONBUILD ENV lonely"}), "ENV must have two arguments");
}

TEST(CommitChangesTest, HealthcheckNoneDisablesTheImagesCheck) {
  json config = {{"Healthcheck", {{"Test", {"CMD-SHELL", "true"}}, {"Retries", 3}}}};
  EXPECT_EQ(applied(config, {"HEALTHCHECK NONE"})["Healthcheck"], json({{"Test", {"NONE"}}}));
  EXPECT_EQ(refusal({"HEALTHCHECK NONE now"}), "HEALTHCHECK NONE takes no arguments");
}

TEST(CommitChangesTest, HealthcheckCmdTakesIntervalTimeoutStartPeriodAndRetries) {
  json out = applied({"HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms "
                      "--retries=3 CMD curl -f http://localhost/ || exit 1"});
  EXPECT_EQ(out["Healthcheck"], json({{"Test", {"CMD-SHELL", "curl -f http://localhost/ || exit 1"}},
                                      {"Interval", 30000000000},
                                      {"Timeout", 90000000000},
                                      {"StartPeriod", 1500000000},
                                      {"StartInterval", 500000000},
                                      {"Retries", 3}}));
}

TEST(CommitChangesTest, HealthcheckJsonFormRunsWithoutAShell) {
  EXPECT_EQ(applied({R"(healthcheck cmd ["pg_isready", "-U", "postgres"])"})["Healthcheck"],
            json({{"Test", {"CMD", "pg_isready", "-U", "postgres"}}}));
}

TEST(CommitChangesTest, HealthcheckRefusesBadTypesFlagsAndValues) {
  EXPECT_EQ(refusal({"HEALTHCHECK"}), "HEALTHCHECK requires at least one argument");
  EXPECT_EQ(refusal({"HEALTHCHECK CMD"}), "Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(refusal({"HEALTHCHECK RUN x"}), "Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(refusal({"HEALTHCHECK --every=5s CMD x"}), "Unknown flag: every");
  EXPECT_EQ(refusal({"HEALTHCHECK --interval CMD x"}), "Missing a value on flag: interval");
  EXPECT_EQ(refusal({"HEALTHCHECK --retries=1 --retries=2 CMD x"}), "Duplicate flag specified: retries");
  EXPECT_EQ(refusal({"HEALTHCHECK --interval=10 CMD x"}), "time: missing unit in duration \"10\"");
  EXPECT_EQ(refusal({"HEALTHCHECK --interval=5y CMD x"}), "time: unknown unit \"y\" in duration \"5y\"");
  EXPECT_EQ(refusal({"HEALTHCHECK --timeout=100us CMD x"}), "Interval \"timeout\" cannot be less than 1ms");
  EXPECT_EQ(refusal({"HEALTHCHECK --retries=-1 CMD x"}), "--retries cannot be negative (-1)");
  EXPECT_EQ(refusal({"HEALTHCHECK --retries=x CMD x"}), "strconv.ParseInt: parsing \"x\": invalid syntax");
}

TEST(CommitChangesTest, UnknownInstructionIsRefusedWithDockerdsMessage) {
  EXPECT_EQ(refusal({"RUN apt-get update"}), "RUN is not a valid change command");
  EXPECT_EQ(refusal({"ENV A=1", "from busybox"}), "from is not a valid change command");
  EXPECT_EQ(refusal({"MAINTAINER me"}), "MAINTAINER is not a valid change command");
  EXPECT_EQ(refusal({"ARG V=1"}), "ARG is not a valid change command");
}

TEST(CommitChangesTest, InstructionsAreCaseInsensitive) {
  json out = applied({"env A=1", "Cmd x", "uSeR nobody"});
  EXPECT_EQ(out["Env"], json({"A=1"}));
  EXPECT_EQ(out["Cmd"], json({"/bin/sh", "-c", "x"}));
  EXPECT_EQ(out["User"], "nobody");
}

TEST(CommitChangesTest, AllValuesAreParsedAsOneDockerfile) {
  json out = applied({"# set up the app\nENV A=1 \\\n    B=2\n\n  LABEL x=y", "USER app", "   # trailing comment"});
  EXPECT_EQ(out["Env"], json({"A=1", "B=2"}));
  EXPECT_EQ(out["Labels"], json({{"x", "y"}}));
  EXPECT_EQ(out["User"], "app");
  // A trailing backslash carries on into the next value, since the values are joined by lines.
  EXPECT_EQ(applied({"CMD echo a \\", "b"})["Cmd"], json({"/bin/sh", "-c", "echo a b"}));
  EXPECT_EQ(applied({"CMD echo \\\r\n  # comment between\n  done"})["Cmd"], json({"/bin/sh", "-c", "echo   done"}));
}

TEST(CommitChangesTest, ValuesWithNoInstructionAreRefused) {
  EXPECT_EQ(refusal({""}), "file with no instructions");
  EXPECT_EQ(refusal({"# only a comment", "  "}), "file with no instructions");
}

TEST(CommitChangesTest, EscapeDirectiveChangesTheEscapeCharacter) {
  json out = applied({"# escape=`", "ENV A=x`$y B=C:\\dir", "CMD echo a `", "b"});
  EXPECT_EQ(out["Env"], json({"A=x$y", "B=C:\\dir"}));
  EXPECT_EQ(out["Cmd"], json({"/bin/sh", "-c", "echo a b"}));
  EXPECT_EQ(refusal({"# escape=x", "CMD y"}), "invalid escape token 'x' does not match ` or \\");
}

TEST(CommitChangesTest, FlagsAreRefusedWhereDockerdTakesNone) {
  EXPECT_EQ(refusal({"CMD --foo=bar x"}), "Unknown flag: foo");
  EXPECT_EQ(refusal({"USER --uid=1 bob"}), "Unknown flag: uid");
  EXPECT_EQ(applied({"STOPSIGNAL --ignored=yes SIGINT"})["StopSignal"], "SIGINT");  // dockerd never reads them
}

TEST(CommitChangesTest, NullFieldsAreTreatedAsEmpty) {
  json config = {{"Env", nullptr}, {"Labels", nullptr}, {"ExposedPorts", nullptr}, {"Cmd", nullptr}};
  json out = applied(config, {"ENV A=1", "LABEL l=v", "EXPOSE 80"});
  EXPECT_EQ(out["Env"], json({"A=1"}));
  EXPECT_EQ(out["Labels"], json({{"l", "v"}}));
  EXPECT_EQ(out["ExposedPorts"], json({{"80/tcp", json::object()}}));
  EXPECT_EQ(applied(nullptr, {"USER x"}), json({{"User", "x"}}));
}

TEST(CommitChangesTest, ConfigIsUnchangedWhenAnyChangeFails) {
  const json before = busybox();
  for (const std::vector<std::string>& changes :
       std::vector<std::vector<std::string>>{{"ENV A=1", "LABEL b=2", "STOPSIGNAL NOPE"},
                                             {"CMD x", "WORKDIR /w", "RUN y"},
                                             {"EXPOSE 80", "VOLUME [1]"},
                                             {"USER u", "WORKDIR ${X"}}) {
    json config = before;
    EXPECT_THROW(applyChanges(config, changes), Error);
    EXPECT_EQ(config, before);
  }
}

TEST(CommitChangesTest, ANonObjectConfigIsRefused) {
  EXPECT_FALSE(refusal({"USER x"}, json::array()).empty());
}

// ${a:-${a:-…}} recurses once per level: 64 levels expand, deeper ones are refused instead of
// exhausting the stack (a hostile --change reaches this through commit and import).
TEST(CommitChangesTest, VariableSubstitutionsNestedTooDeepAreRefused) {
  auto nestedDefault = [](int levels) {
    std::string text;
    text.reserve(static_cast<size_t>(levels) * 6 + 1);
    for (int i = 0; i < levels; ++i) text += "${U:-";
    return text + "x" + std::string(static_cast<size_t>(levels), '}');
  };
  EXPECT_EQ(applied({"LABEL v=" + nestedDefault(60)})["Labels"]["v"], "x");
  auto message = refusal({"LABEL v=" + nestedDefault(200000)});
  EXPECT_NE(message.find("variable substitutions nested deeper than 64 levels"), std::string::npos) << message.substr(0, 200);
}

}  // namespace
}  // namespace berth::dockerfile
