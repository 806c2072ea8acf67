//! Groups and membership: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser, ListUsersForGroup.

use rampart_model::{Field, Group};
use rampart_store::{GroupUpdate, NewGroup};
use serde_json::{json, Value};

use super::common::{body, date, page, paginate};
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

fn group_json(g: &Group) -> Value {
    json!({
        "GroupId": g.group_id.as_str(),
        "GroupName": g.group_name,
        "Comments": g.comments,
        "CreateDate": date(g.create_date),
        "UpdateDate": date(g.update_date),
    })
}

pub fn create_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let group = NewGroup {
            group_name: call.name(Field::GroupName)?.to_owned(),
            comments: call
                .optional_name(Field::Comments, "Comments")?
                .unwrap_or("")
                .to_owned(),
        };
        let g = call
            .store
            .create_group(call.account()?, group, call.now)
            .await
            .map_err(store_error)?;
        let mut v = group_json(&g);
        if let Value::Object(m) = &mut v {
            m.remove("UpdateDate");
        }
        Ok(body(json!({ "Group": v })))
    })
}

pub fn get_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let g = call
            .store
            .get_group(call.account()?, call.name(Field::GroupName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "Group": group_json(&g) })))
    })
}

pub fn update_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::GroupName)?;
        let update = GroupUpdate {
            new_group_name: call
                .optional_name(Field::GroupName, "NewGroupName")?
                .map(str::to_owned),
            new_comments: call
                .optional_name(Field::Comments, "NewComments")?
                .map(str::to_owned),
        };
        let g = call
            .store
            .update_group(call.account()?, name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "Group": group_json(&g) })))
    })
}

pub fn delete_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_group(call.account()?, call.name(Field::GroupName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn list_groups(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = page(call)?;
        let listing = call
            .store
            .list_groups(call.account()?, &page)
            .await
            .map_err(store_error)?;
        let groups: Vec<Value> = listing.items.iter().map(group_json).collect();
        let mut out = body(json!({ "Groups": { "Group": groups } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}

pub fn add_user_to_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .add_user_to_group(
                call.account()?,
                call.name(Field::GroupName)?,
                call.name(Field::UserName)?,
                call.now,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn remove_user_from_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .remove_user_from_group(
                call.account()?,
                call.name(Field::GroupName)?,
                call.name(Field::UserName)?,
            )
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn list_groups_for_user(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let groups = call
            .store
            .list_groups_for_user(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        let groups: Vec<Value> = groups
            .iter()
            .map(|(g, joined)| {
                json!({
                    "GroupId": g.group_id.as_str(),
                    "GroupName": g.group_name,
                    "Comments": g.comments,
                    "JoinDate": date(*joined),
                })
            })
            .collect();
        Ok(body(json!({ "Groups": { "Group": groups } })))
    })
}

pub fn list_users_for_group(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = page(call)?;
        let listing = call
            .store
            .list_users_for_group(call.account()?, call.name(Field::GroupName)?, &page)
            .await
            .map_err(store_error)?;
        let users: Vec<Value> = listing
            .items
            .iter()
            .map(|(u, joined)| {
                json!({
                    "UserId": u.user_id.as_str(),
                    "UserName": u.user_name,
                    "DisplayName": u.display_name,
                    "JoinDate": date(*joined),
                })
            })
            .collect();
        let mut out = body(json!({ "Users": { "User": users } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}
