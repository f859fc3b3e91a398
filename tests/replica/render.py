"""HTML of the replica, modelled on the real markup in tests/fixtures/real/ and
docs/evidence.md (which selector rests on which evidence is said there)."""

from __future__ import annotations

from html import escape

from .model import NODES, Article, Ref, Site, seed_article_text

NAV = """<div class="g-topNav"><h1>全部导航</h1><ul>
<li><a href="https://www.gmw.cn/">光明网首页</a></li><li><a href="https://politics.gmw.cn/">时政</a></li>
<li><a href="https://world.gmw.cn/">国际</a></li><li><a href="https://guancha.gmw.cn/">观察</a></li>
<li><a href="https://tech.gmw.cn/">科技</a></li><li><a href="https://www.xinhuanet.com/">新华网</a></li>
</ul></div>"""

HEAD_SCRIPTS = """<script type="text/javascript">var _hmt = _hmt || [];(function(){var hm=document.createElement("script");hm.src="//hm.baidu.com/hm.js?x";})();</script>
<style type="text/css">.u-mainText p{text-indent:2em}</style>"""

FOOTER = """<div class="g-footer"><p>光明网版权所有</p><p><a href="https://www.gmw.cn/gmw/aboutus.htm">关于光明网</a></p></div>
<script type="text/javascript" src="//img.gmw.cn/js/content_share.js"></script>
<script>document.write('<p>阅读剩余全文</p>');</script>"""

SHARE = """<div class="m-share"><p>点击右上角<span>微信好友</span></p><p>朋友圈</p><p>请使用浏览器分享功能进行分享</p></div>"""


def _enpproperty(art: Article, page: int) -> str:
    suffix = f"({page})" if len(art.pages) > 1 else ""
    return (
        f"<!--enpproperty <articleid>{art.article_id}</articleid><date>{art.published:%Y-%m-%d %H:%M:%S}.0</date>"
        f"<author></author><title>{escape(art.title)}{suffix}_光明网</title><keyword>{','.join(art.keywords)}</keyword>"
        f"<subtitle></subtitle><introtitle></introtitle><siteid>2</siteid><nodeid>{art.node}</nodeid>"
        f"<nodename>{NODES[art.node]}</nodename><nodesearchname></nodesearchname>/enpproperty-->"
    )


def _pager(art: Article, page: int) -> str:
    total = len(art.pages)
    if total == 1:
        return ""
    name = lambda p: f"content_{art.article_id}{'' if p == 1 else f'_{p}'}.htm"
    parts = ["<span></span>"]
    if page > 1:
        parts.append(f'<a href="{name(page - 1)}">上一页</a>')
    for p in range(1, total + 1):
        parts.append(f"<span>{p}</span>" if p == page else f'<a href="{name(p)}">{p}</a>')
    if page < total:
        parts.append(f'<a href="{name(page + 1)}">下一页</a>')
    return (
        f'<div width="100%" id="displaypagenum"><p></p><center> {" ".join(parts)} </center></div>'
        f'<div id="mpagecount" style="display:none">{total}</div>'
        f'<div id="mcurrentpage" style="display:none">{page}</div>'
    )


def _images(art: Article, page: int) -> str:
    out = []
    for im in art.images:
        if im["page"] != page:
            continue
        url = im["url"].replace("https:", "", 1) if art.article_id % 2 else im["url"]  # protocol-relative
        if im["lazy"]:
            tag = f'<img src="//img.gmw.cn/pic/loading.gif" data-original="{url}" alt="">'
        else:
            tag = f'<img border="0" src="{url}" alt="{escape(im["caption"])}">'
        out.append(f'<p align="center">{tag}</p>\n<p class="pictext" align="center">　　{escape(im["caption"])}</p>')
    return "\n".join(out)


def _inline_related(refs: list[Ref]) -> str:
    if not refs:
        return ""
    links = "".join(f'<p>　　<a href="{r.url}" target="_blank">{escape(r.title)}</a></p>' for r in refs)
    return f"<p>　　<strong>相关阅读：</strong></p>{links}"


def _body(art: Article, page: int, *, onclick: bool = True) -> str:
    event = ' onclick="track()"' if onclick else ""
    paras = "\n".join(
        f"<p{event if n == 0 else ''}>　　{escape(t)}</p>" for n, t in enumerate(art.pages[page - 1])
    )
    last = page == len(art.pages)
    # static related links only where the real pages have them: 相关阅读： paragraphs in the body
    inline = _inline_related(art.related) if last and art.variant != "old" else ""
    logo = (
        '<p><a href="http://www.gmw.cn"><img src="https://img.gmw.cn/pic/content_logo.png" title="返回光明网首页"></a></p>'
        if last else ""
    )
    return (
        f"{_enpproperty(art, page)}<!--enpcontent--><!--enpcontent-->\n{_images(art, page)}\n{paras}\n"
        f'{inline}<script>var s="<p>脚本里的文字</p>";</script>{logo}<!--/enpcontent-->{_pager(art, page)}<!--/enpcontent-->'
    )


def _video(art: Article) -> str:
    if not art.videos:
        return ""
    return f'<div class="m-player_box"><div id="MultiAttachPh" style="display:none">{" ".join(art.videos)}</div></div>'


# The 相关阅读 block of the real 2024 page (tests/fixtures/real/2024-05-13_…_browser_saved.html): gmw's
# conCorrelatedNews6.mod script fills its slots after load, so as downloaded they hold only
# `javascript:;` placeholders (docs/evidence.md) — a crawl of the live site follows none of them.
REL_READ = """<!--相关阅读 开始-->
<div class="m-relRead">
    <h2>相关阅读</h2>
    <ul class="relReadUl" id="relReadUl">
        <li class="rRPic"><div class="m-imgcon"><div class="m-img"> <a href="javascript:;" target="_blank"><img src="" border="0"></a> </div></div><p></p><div class="u-titleload4"></div></li>
        <li class="rRPic no-Mobile1000"><div class="m-imgcon"><div class="m-img"> <a href="javascript:;" target="_blank"><img src="" border="0"></a> </div></div><p></p><div class="u-titleload4"></div></li>
        <li class="rRArticle"> <a href="javascript:;" target="_blank"><div class="u-titleload3"></div></a> <a href="javascript:;" target="_blank"><div class="u-titleload3"></div></a></li>
        <li class="rRArticle"> <a href="javascript:;" target="_blank"><div class="u-titleload3"></div></a> <a href="javascript:;" target="_blank"><div class="u-titleload3"></div></a></li>
    </ul>
</div>
<!--相关阅读 结束-->"""

# The real 2024 page's furniture after the body: 阅读剩余全文, QR banner, an ad slot (same page).
AFTER_BODY = """<div class="u-moreText">阅读剩余全文（<span class="u-percent"></span>）</div>
<div id="titleImgWrap" style="display:none;"></div>
<div class="u-conBottomLine"></div>
<div class="u-QRcode"><img src="//img.gmw.cn/content_banner/content_840x120_qrcodes.jpg"></div>
<div class="u-con-left-ad" id="ad_con_left_full_01" style="margin-bottom:20px;"></div>"""

# The 光明日报 template's 小调查 vote block in #article_inbox before the body (public crawlers of
# gmw.cn, docs/evidence.md): p#voteiFrameP, div.m-vote-wrap, a form.
VOTE = """<p id="voteiFrameP"><strong>小调查</strong></p><div class="m-vote-wrap"><form action="//vote.gmw.cn/vote.do" method="post">
<p>您如何看待这篇报道？</p><label><input type="radio" name="v" value="1">有帮助</label><label><input type="radio" name="v" value="2">一般</label>
<input type="submit" value="投票"></form></div>"""


def _furniture(site: Site, art: Article, page: int) -> str:
    """相关阅读 (script-filled), 您此时的心情, 视觉焦点, 推荐阅读 — as on the seed page and the real 2024 page."""
    seed = seed_article_text()
    pool = site.pool_refs()
    focus = "".join(
        f'<li><a href="{ref.url}"><img src="//img.gmw.cn/focus/{n}.jpg"><p>{escape(t)}</p></a></li>'
        for n, (ref, t) in enumerate(zip(pool[:2], seed["focus"]))
    )
    rec = "".join(
        f'<li><a href="{ref.url}"><p>{escape(cap)}</p><span>{escape(when)}</span></a></li>'
        for ref, (cap, when) in zip(pool[2:], seed["recommended"])
    )
    return f"""{REL_READ}
<div class="m-mood"><h2>您此时的心情</h2><p>光明云投</p><p>新闻表情排行 /</p><ul>
<li>开心 <span>0</span></li><li>难过 <span>0</span></li><li>点赞 <span>0</span></li><li>飘过 <span>0</span></li></ul></div>
<div class="m-focus"><h2>视觉焦点</h2><ul>{focus}</ul></div>
<div class="m-dujia"><h2>独家策划</h2></div>
<div class="m-recommend"><h2>推荐阅读</h2><ul>{rec}</ul></div>"""


def article_page(site: Site, art: Article, page: int, charset: str = "utf-8") -> str:
    title = escape(art.title)
    head = f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{title}{f'({page})' if len(art.pages) > 1 else ''}_光明网</title>
<meta name="keywords" content="{','.join(art.keywords)}">
{HEAD_SCRIPTS}</head><body>
{NAV}
{SHARE}"""
    if art.variant == "old":
        return head + _old_template(site, art, page) + FOOTER + "</body></html>"
    if art.variant == "gallery":
        return head + _gallery_template(art, page) + _furniture(site, art, page) + FOOTER + "</body></html>"
    if art.variant == "B":
        main = f"""<div class="m-title"><h1 id="articleID">{title}</h1>
<div class="m-info"><span id="articlePubTime">{art.time_text}</span>　<a id="articleSource" href="https://www.gmw.cn/">{escape(art.source)}</a></div></div>
{_video(art)}
<div id="ContentPh">{_body(art, page)}</div>
<div class="liability">[责编：{escape(art.editor)}]</div>"""
    else:
        node = art.node
        main = f"""<div class="m-reading">正在阅读:{title}</div>
<div class="g-crumbs"><a href="https://www.gmw.cn/">首页</a>&gt; <a href="https://politics.gmw.cn/">时政频道</a>&gt; <a href="https://politics.gmw.cn/node_{node}.htm">{NODES[node]}</a> &gt; <font>正文</font></div>
<div class="m-title-box"><h1 class="u-title">{title}</h1>
<div class="m-con-info"><span class="m-con-source">来源：<a href="https://www.gmw.cn/" target="_blank">{escape(art.source)}</a></span><span class="m-con-time">{art.time_text}</span></div></div>
<div class="m-l-main"><div id="articleBox" class="con-text"><div id="article_inbox">{_video(art)}
{VOTE if art.source == "光明日报" else ""}
<div class="u-mainText">
{_body(art, page)}
<!--责编-->
<div class="m-zbTool liability"><span>[ </span><span class="liability">责编：{escape(art.editor)}</span><span> ]</span></div>
</div>
{AFTER_BODY}</div></div></div>"""
    return head + main + _furniture(site, art, page) + FOOTER + "</body></html>"


def _link_grid(site: Site) -> str:
    """The editor's grid that ends the real 2012 body of 5439435 (tests/fixtures/real/…_link_grid.html):
    channel links, then thumbnails with captions, every word and picture a link."""
    cells = "".join(f'<td align="middle"><p align="center"><strong><a href="../../node_{n}.htm"><font color="blue">{t}</font></a></strong></p></td>'
                    for n, t in ((8758, "明星八卦"), (10576, "历史悬疑"), (23508, "奇闻异事")))
    pics = "".join(f'<td align="middle"><a href="{r.url}" target="_blank"><img border="0" src="//img.gmw.cn/grid/{n}.jpg" width="120"></a>'
                   f'<p align="center"><a href="{r.url}" target="_blank">{escape(r.title[:8])}</a></p></td>'
                   for n, r in enumerate(site.pool_refs()[:3]))
    return (f'<table border="1" cellspacing="2" cellpadding="1" align="center"><tbody><tr>{cells}</tr></tbody></table>'
            f'<table border="0" align="center"><tbody><tr>{pics}</tr></tbody></table>')


def _old_template(site: Site, art: Article, page: int) -> str:
    """The 2012 template (tests/fixtures/real/2012-09-24_content_5189326_3_old_template.html)."""
    related = ""
    if art.related and page == len(art.pages):
        links = "".join(f'·<a href={r.url} target="_blank">{escape(r.title)}</a><br />' for r in art.related)
        related = f'<div class="contentColumnLeft" id="contentRelated"><h4 class="black14b">相关报道：</h4><p class="black14">{links}</p></div>'
    return f"""<div class="contentWrapper"><div class="contentLeft">
<div id="contentBreadcrumbs" class="black12"><a atremote href="http://www.gmw.cn/">光明网</a> >
<a href="../../index.htm" target="_blank">时政频道</a><Font class="">> </Font><a href="../../node_{art.node}.htm" target="_blank">{NODES[art.node]}</a></div>
<div id="articleTitle">
      {escape(art.title)}
    </div>
<div id="contentMsg"><span id="pubTime">{art.published:%Y-%m-%d %H:%M:%S}</span>　<span id="source">来源：<a href="http://www.gmw.cn/" target="_blank">{escape(art.source)}</a></span>　<span id="author"></span>
　<span class="black12"><a href="#" onClick="Toresult();">查看评论</a></span></div>
{_video(art)}
<div id="contentMain">{_old_body(site, art, page)}</div>
{related}
</div></div>"""


def _gallery_template(art: Article, page: int) -> str:
    """The picture-gallery template as a public 2019 gmw.cn spider reads it (docs/evidence.md):
    `#artBox h1`, `span.u-time`, `div.g-tips span a`, `div.h-contentMain`, its pager `div.pageNum`.
    No saved page of it exists: the rest (enpproperty comment, pictext captions) is the CMS's own."""
    name = lambda p: f"content_{art.article_id}{'' if p == 1 else f'_{p}'}.htm"
    pager = ""
    if len(art.pages) > 1:
        links = " ".join(f"<span>{p}</span>" if p == page else f'<a href="{name(p)}">{p}</a>' for p in range(1, len(art.pages) + 1))
        nxt = f' <a href="{name(page + 1)}">下一页</a>' if page < len(art.pages) else ""
        pager = f'<div class="pageNum">{links}{nxt}</div>'
    body = _body(art, page, onclick=False).replace(_pager(art, page), "").replace("<!--/enpcontent-->", pager + "<!--/enpcontent-->", 1)
    return f"""<div id="artBox"><h1>{escape(art.title)}</h1>
<div class="g-tips"><span class="u-time">{art.time_text}</span>　<span>来源：<a href="https://www.gmw.cn/" target="_blank">{escape(art.source)}</a></span></div>
<div class="h-contentMain">{body}</div></div>"""


def _old_body(site: Site, art: Article, page: int) -> str:
    body = _body(art, page)
    if page == len(art.pages) and art.article_id % 2:
        body = body.replace("<!--/enpcontent-->", _link_grid(site) + "<!--/enpcontent-->", 1)
    return body.replace("<!--/enpcontent-->", f'<!--/enpcontent--><div id="contentLiability">[责任编辑:{escape(art.editor)}]</div>', 1)


def listing_page(site: Site, node: int, page: int) -> str | None:
    found = site.listing(node, page)
    if found is None:
        return None
    entries, has_next = found
    items = []
    for n, (url, title, day) in enumerate(entries):
        href = url.replace("https://politics.gmw.cn/", "", 1)
        if n % 2:  # markup of other gmw channels: li > span.channel-newsTitle > a
            items.append(f'<li><span class="channel-newsTitle"><a href="{href}" target="_blank">{escape(title)}</a></span><span class="channel-newsTime">{day}</span></li>')
        else:  # the 2026 时政 markup: relative, unquoted href
            items.append(f'<li><a href={href} target=_blank>{escape(title)}</a><span class="channel-newsTime">{day}</span></li>')
    nxt = f'<a href="node_{node}_{page + 1}.htm">下一页</a>' if has_next else ""
    prev = (f'<a href="node_{node}{"" if page == 2 else f"_{page - 1}"}.htm">上一页</a>' if page > 1 else "")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{NODES[node]}_时政频道_光明网</title>{HEAD_SCRIPTS}</head>
<body>{NAV}
<div class="g-crumbs"><a href="https://www.gmw.cn/">首页</a>&gt; <a href="https://politics.gmw.cn/">时政频道</a>&gt; {NODES[node]}</div>
<div class="channelLeftPart"><ul class="channel-newsGroup">
{chr(10).join(items)}
</ul>
<div id="displaypagenum">{prev} <span>{page}</span> {nxt}</div></div>
<div class="m-recommend"><h2>推荐阅读</h2><ul>{''.join(f'<li><a href="{r.url}">{escape(r.title)}</a></li>' for r in site.pool_refs())}</ul></div>
{FOOTER}</body></html>"""


SOFT_404 = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>页面没有找到_光明网</title></head>
<body><h1>全部导航</h1><div class="error"><h1 class="u-title">对不起，您访问的页面没有找到</h1><p>　　可能已被删除或链接错误。</p></div></body></html>"""

ROBOTS = """User-agent: *
Disallow: /2026-11/20/content_{forbidden}.htm
Disallow: /private/
"""
