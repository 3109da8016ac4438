import json, os, subprocess, sys, tempfile
from benchmarks.lan_bench import emulated
for v in sys.argv[1].split(","):
    with tempfile.TemporaryDirectory() as tmp, emulated(400, first_ip="127.0.117.1", port=6668, versions=v, procs=1) as devs:
        path=os.path.join(tmp,"m.json")
        json.dump({"devices":[{k: getattr(d, k) for k in ("id","local_key","ip","port","version")} for d in devs]}, open(path,"w"))
        out=subprocess.run([sys.executable,"-m","benchmarks.memory_client","tuyagate",path],capture_output=True,text=True,check=True)
        r=json.loads(out.stdout.splitlines()[-1])
        print(v, f"base {r['rss_before']/2**20:.1f} MiB, per conn {r['per_device_bytes']/1024:.1f} KiB, {r['connected']}")
