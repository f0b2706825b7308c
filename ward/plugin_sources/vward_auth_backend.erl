%% The ward's RabbitMQ authentication backend: an MQTT client id belongs to
%% its user (issue 10).  RabbitMQ 3.10's internal backend checks the password
%% only, so any device could connect with another's client id, or the ingest
%% worker's, and take its session over: the MQTT plugin registers the client
%% id (and disconnects its holder) after a successful login.  This backend
%% refuses such a login first, then lets rabbit_auth_backend_internal decide
%% (rabbitmq.conf: auth_backends.1.authn = vward_auth_backend,
%% auth_backends.1.authz = internal).
%%
%% The rule: a device's user name is its device id and its client id is the
%% same; a service user's name holds an '@' (no device id can) and its client
%% ids begin with its name (ingest@vward-1).  The MQTT plugin passes the
%% client id as {client_id, Binary} in AuthProps (rabbit_mqtt_connection_info);
%% AMQP and HTTP logins carry none and are left to the internal backend.
%%
%% Compiled by `vward up` (ward/broker_plugins.py) into a plugin of its own.
-module(vward_auth_backend).

-export([description/0, user_login_authentication/2, client_id_allowed/2]).

description() ->
    [{name, <<"vward">>},
     {description, <<"MQTT client id bound to the user name, then internal">>}].

user_login_authentication(Username, AuthProps) ->
    case proplists:get_value(client_id, AuthProps) of
        undefined ->
            rabbit_auth_backend_internal:user_login_authentication(Username, AuthProps);
        ClientId ->
            case client_id_allowed(to_binary(Username), to_binary(ClientId)) of
                true ->
                    rabbit_auth_backend_internal:user_login_authentication(Username, AuthProps);
                false ->
                    {refused, "MQTT client id '~ts' is not user '~ts''s own",
                     [ClientId, Username]}
            end
    end.

client_id_allowed(Username, ClientId) ->
    case binary:match(Username, <<"@">>) of
        nomatch -> ClientId =:= Username;
        _ -> binary:longest_common_prefix([Username, ClientId]) =:= byte_size(Username)
    end.

to_binary(B) when is_binary(B) -> B;
to_binary(L) when is_list(L) -> unicode:characters_to_binary(L).
