/**
 * nginx.conf for the Nchan peer: one worker process (Herald and the other
 * peers use one core too), WebSocket subscribers on /sub/<topic>, HTTP
 * publishers on /pub/<topic>; with Redis, an upstream in Nchan's `nostore`
 * mode, i.e. plain pub/sub like Herald's (no message storage in Redis).
 * worker_connections leaves room for the publisher's HTTP connections
 * (nginx counts every connection, not only subscribers).
 * New subscribers get only messages published after they subscribed
 * (`nchan_subscriber_first_message newest`), as with Herald.
 */

/**
 * @param {{ dir: string, port: number, module: string, redisPort?: number, maxConnections: number }} o
 */
export function nchanConf(o) {
  const redis = o.redisPort === undefined
    ? ''
    : `  upstream bench_redis {
    nchan_redis_server "redis://127.0.0.1:${o.redisPort}";
    nchan_redis_storage_mode nostore;
  }
`;
  const pass = o.redisPort === undefined ? '' : '      nchan_redis_pass bench_redis;\n';
  return `load_module ${o.module};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${Math.min(20_000, o.maxConnections + 1100)};
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events {
  worker_connections ${Math.min(19_900, o.maxConnections + 1000)};
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path ${o.dir}/body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  nchan_shared_memory_size 256M;
${redis}  server {
    listen 127.0.0.1:${o.port} backlog=4096;
    location ~ ^/sub/(.+)$ {
      nchan_subscriber websocket;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
${pass}    }
    location ~ ^/pub/(.+)$ {
      nchan_publisher http;
      nchan_channel_id $1;
      nchan_message_buffer_length 1;
      nchan_message_timeout 10s;
${pass}    }
    location = /readyz {
      return 200 'ok';
    }
  }
}
`;
}
