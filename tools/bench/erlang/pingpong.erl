%% The Erlang peer of the llmos messaging benchmark: the same request/response conversation the
%% C++ benchmark runs over CAF, measured with Erlang processes, first within one node and then
%% against a second node on this host that the benchmark starts itself (module peer, OTP 25).
%%
%% Run it from a distributed node, for instance
%%   erl -noshell -sname bench_a@localhost -setcookie llmosbench -pa DIR \
%%       -s pingpong main all 20000 64 -s init stop
%% It prints ONE line of JSON on stdout:
%%   {"erlang_local_p50_us":...,"erlang_local_p99_us":...,"erlang_local_rps":...,
%%    "erlang_remote_p50_us":...,"erlang_remote_p99_us":...,"erlang_remote_rps":...}
%% Latency: N sequential round trips {self(), Ref, ping} -> {Ref, pong}, each timed with
%% erlang:monotonic_time(nanosecond). Throughput: N requests with up to Window outstanding.
%% Mode is all, local or remote (the last two print only their own fields).
-module(pingpong).
-export([main/1, pong/0]).

%% Enough round trips to reach a steady state (code loaded, connection warm) before timing.
-define(WARMUP, 1000).

main([Mode, N, Window]) ->
    try
        run(Mode, to_int(N), to_int(Window))
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "pingpong: ~p:~p~n~p~n", [Class, Reason, Stack]),
            erlang:halt(1)
    end;
main(Args) ->
    io:format(standard_error, "usage: -s pingpong main all|local|remote N WINDOW (got ~p)~n",
              [Args]),
    erlang:halt(2).

run(Mode, N, Window) when N > 0, Window > 0 ->
    Fields = case Mode of
                 all -> local(N, Window) ++ remote(N, Window);
                 local -> local(N, Window);
                 remote -> remote(N, Window)
             end,
    io:format("{~s}~n", [lists:join(",", [field(K, V) || {K, V} <- Fields])]).

local(N, Window) ->
    Pong = spawn(?MODULE, pong, []),
    Result = measure("erlang_local", Pong, N, Window),
    Pong ! stop,
    Result.

remote(N, Window) ->
    node() =/= nonode@nohost orelse error(not_distributed_start_with_sname),
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Name = list_to_atom("bench_b_" ++ os:getpid()),
    %% The peer needs this module and our cookie; it goes down with this process.
    Dir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start_link(#{name => Name, host => Host,
                                         args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                  "-pa", Dir]}),
    Pong = spawn(Node, ?MODULE, pong, []),
    Result = measure("erlang_remote", Pong, N, Window),
    Pong ! stop,
    peer:stop(Peer),
    Result.

measure(Prefix, Pong, N, Window) ->
    _ = latencies(Pong, min(N, ?WARMUP)),
    Sorted = lists:sort(latencies(Pong, N)),
    Rps = throughput(Pong, N, Window),
    [{Prefix ++ "_p50_us", percentile(Sorted, N, 0.50) / 1000},
     {Prefix ++ "_p99_us", percentile(Sorted, N, 0.99) / 1000},
     {Prefix ++ "_rps", Rps}].

%% Nanoseconds of each of N sequential round trips.
latencies(Pong, N) -> latencies(Pong, N, []).

latencies(_Pong, 0, Acc) -> Acc;
latencies(Pong, N, Acc) ->
    Ref = make_ref(),
    T0 = erlang:monotonic_time(nanosecond),
    Pong ! {self(), Ref, ping},
    receive {Ref, pong} -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    latencies(Pong, N - 1, [T1 - T0 | Acc]).

%% Nearest-rank percentile of a sorted list of N values.
percentile(Sorted, N, P) ->
    lists:nth(max(1, min(N, ceil(P * N))), Sorted).

%% Requests per second for N requests with at most Window outstanding.
throughput(Pong, N, Window) ->
    Ref = make_ref(),
    T0 = erlang:monotonic_time(nanosecond),
    First = min(N, Window),
    [Pong ! {self(), Ref, ping} || _ <- lists:seq(1, First)],
    collect(Pong, Ref, N - First, N),
    T1 = erlang:monotonic_time(nanosecond),
    N * 1.0e9 / (T1 - T0).

%% Every reply frees a slot for the next request until all requests are answered.
collect(_Pong, _Ref, _ToSend, 0) -> ok;
collect(Pong, Ref, 0, Unanswered) ->
    receive {Ref, pong} -> ok end,
    collect(Pong, Ref, 0, Unanswered - 1);
collect(Pong, Ref, ToSend, Unanswered) ->
    receive {Ref, pong} -> ok end,
    Pong ! {self(), Ref, ping},
    collect(Pong, Ref, ToSend - 1, Unanswered - 1).

pong() ->
    receive
        {From, Ref, ping} -> From ! {Ref, pong}, pong();
        stop -> ok
    end.

field(Key, Value) -> io_lib:format("\"~s\":~.3f", [Key, float(Value)]).

to_int(X) when is_integer(X) -> X;
to_int(X) when is_atom(X) -> list_to_integer(atom_to_list(X));
to_int(X) when is_list(X) -> list_to_integer(X).
