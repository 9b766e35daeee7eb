// The dashboard: one self-contained page (no external assets: nodes may have no internet) that
// polls /v1/dashboard every second and draws nodes, devices, actors, models with versions and
// aliases, jobs with loss curves (inline SVG) and alerts.
#include "http/routes.hpp"

namespace llmos::http {

const std::string& dashboard_html() {
  static const std::string page = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>llmos dashboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
.bar{display:inline-block;height:.7em;background:#4a8;vertical-align:middle}
.firing{color:#b00;font-weight:bold}.pending{color:#b60}.inactive{color:#888}
svg{background:#fff;border:1px solid #ddd}
</style></head><body>
<h1>llmos</h1><div id="updated">loading…</div>
<h2>Nodes</h2><table id="nodes"></table>
<h2>Devices</h2><table id="devices"></table>
<h2>Models</h2><table id="models"></table>
<h2>Jobs</h2><div id="jobs"></div>
<h2>Generations</h2><table id="generations"></table>
<h2>Alerts</h2><table id="alerts"></table>
<h2>Feedback loop</h2><table id="decisions"></table>
<h2>Actors</h2><table id="actors"></table>
<script>
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
function table(id,head,rows){document.getElementById(id).innerHTML='<tr>'+head.map(h=>'<th>'+h+'</th>').join('')+'</tr>'+rows.map(r=>'<tr>'+r.map(c=>'<td>'+c+'</td>').join('')+'</tr>').join('')}
function curve(losses){if(!losses.length)return '';const w=300,h=80,max=Math.max(...losses),min=Math.min(...losses);
 const pts=losses.map((l,i)=>(i*w/Math.max(1,losses.length-1)).toFixed(1)+','+(h-(l-min)/Math.max(1e-9,max-min)*h).toFixed(1)).join(' ');
 return '<svg width="'+w+'" height="'+h+'"><polyline fill="none" stroke="#36c" points="'+pts+'"/></svg>'}
async function refresh(){
 try{const d=await (await fetch('/v1/dashboard')).json();
 table('nodes',['node','host','state','devices'],d.nodes.map(n=>[esc(n.name),esc(n.host+':'+n.port),esc(n.state),esc(n.devices.join(', '))]));
 table('devices',['device','node','type','utilisation','jobs','queued'],d.devices.map(x=>[esc(x.name),esc(x.node),esc(x.type),'<span class="bar" style="width:'+(x.utilisation*100).toFixed(0)+'px"></span> '+(x.utilisation*100).toFixed(1)+'%',x.jobs_done,x.queued]));
 table('models',['model','versions','aliases','servers'],d.models.map(m=>{const vs=m.versions||[],ss=m.servers||[];
  return [esc(m.name),vs.map(v=>'v'+v.version).join(' '),vs.filter(v=>v.aliases.length).map(v=>esc(v.aliases.join(','))+'→v'+v.version).join(' '),
  ss.map(s=>'v'+s.version+(s.ready?' ready':' loading')+' served '+s.served+' p99 '+s.p99_ms.toFixed(1)+' ms').join('<br>')]}));
 document.getElementById('jobs').innerHTML=d.jobs.map(j=>'<div class="job"><b>'+esc(j.model)+'</b> '+esc(j.architecture)+' step '+j.step+(j.training?' (training)':'')+'<br>'+curve(j.losses)+'</div>').join('');
 table('generations',['server','replica','id','state','priority','tokens','generated','KV blocks'],d.generations.map(g=>[esc(g.server),esc(g.replica),g.id,esc(g.state),g.priority,g.tokens,g.generated,g.kv_blocks]));
 table('decisions',['analyst','round','decision','why','time'],d.decisions.map(x=>[esc(x.analyst),x.round,esc(x.decision),esc(x.why),new Date(x.time*1000).toISOString()]));
 table('alerts',['rule','state','value','severity','summary'],d.alerts.rules.map(a=>[esc(a.rule),'<span class="'+esc(a.state)+'">'+esc(a.state)+'</span>',a.value===null?'–':Number(a.value).toPrecision(4),esc(a.severity),esc(a.summary)]));
 table('actors',['actor','kind','node'],d.actors.map(a=>[esc(a.name),esc(a.kind),esc(a.node)]));
 document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();
 }catch(e){document.getElementById('updated').textContent='gateway unreachable: '+e}}
refresh();setInterval(refresh,1000);
</script></body></html>
)HTML";
  return page;
}

} // namespace llmos::http
